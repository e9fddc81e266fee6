"""Fleet-scale benchmark (issue 6): `python -m bench.run --requests-per-day 1000000 3000000 10000000`.

Kept out of the unit-test run (nothing here is collected by pytest); `tests/test_bench_equivalence.py`
checks that the reference in `bench.reference` and the pipeline agree on a small day.
"""
