"""Benchmarking mlpillars: the loop baselines the array backends are measured against.

- :mod:`.baselines`: a pure-Python loop and a Numba ``@njit`` loop for every kernel, with a
  registry (``BASELINES``) and an explicit, separately timed Numba compilation step.
"""
