"""The performance suite: the orders-v1 workload on eventlab and on the eventsourcing library.

Run it with ``python -m benchmarks.run --size smoke|full|scale``; see docs/benchmarks.md.
"""
