"""pytest-benchmark suites: ``pytest --pyargs mlpillars.bench.suites --mlpillars-suite quick``.

``mlpillars bench`` runs these same files with a progress bar and a results folder.
"""
