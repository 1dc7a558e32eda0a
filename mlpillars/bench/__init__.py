"""Benchmarking mlpillars: suites of cases timed against loop baselines and peer libraries.

- :mod:`.catalogue`: one entry per public kernel (example inputs, sizes per suite, work
  model, loop baselines, peers, the output compared); the only table keyed by kernel name.
- :mod:`.baselines`: a pure-Python loop and a Numba ``@njit`` loop per kernel, with an
  explicit, separately timed Numba compilation step.
- :mod:`.peers`: the function of another library a user would otherwise call.
- :mod:`.cases` and :mod:`.implementations`: suites, cases and what each case times;
  :mod:`.measure` checks and times one case.
"""
