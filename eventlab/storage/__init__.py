"""The storage layer: the event store on DuckDB, and the only code that talks to DuckDB directly.

``schema`` (the tables and opening a file), ``chain`` (the hash chain and
``verify``), ``store`` (``EventStore``: append, read, unit of work, and the small
public surface the layers above use), ``bulk`` (import and export).
"""
