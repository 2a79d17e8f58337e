"""Benchmarks of kesu against plain Temporal baselines measured in the same run.

One script per figure (``python -m bench.overhead`` ...); ``make bench`` runs them all. See
``bench/README.md`` for how to read the ratios and ``bench/RESULTS.md`` for one recorded run.
"""
