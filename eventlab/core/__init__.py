"""The core layer: events, deciders and replay, in pure Python (no I/O, no DuckDB).

``events`` (what is stored and how it reads back), ``upcasters`` (old shapes
upgraded on read), ``decider`` (``Decider`` and ``replay``: State = replay(events)),
``testing`` (given/when/then). Everything above builds on these; they import
nothing of eventlab but ``errors``.
"""
