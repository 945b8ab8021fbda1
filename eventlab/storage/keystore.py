"""Keys kept outside the log: one secret key per person, which can be destroyed.

The event log is append-only and hash-chained, so personal data cannot be
deleted from it. *Crypto-shredding* stores that data encrypted with a key of its
own per person, and keeps the keys here, in a separate database (another file,
with its own backups and access rules). Forgetting a person destroys their key;
the ciphertext stays in the log, unreadable by anyone.

A row deleted from a DuckDB file lingers in its free blocks (the tests found the
key's bytes still there after DELETE and CHECKPOINT), so :meth:`KeyStore.forget`
on a file copies the remaining keys into a new file that replaces the old one;
the tests check that the key's bytes are gone from it. Copies of the key store
(backups, replicas, the disk's own remapped blocks) are beyond its reach.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from eventlab.core.events import check_name
from eventlab.errors import StoreError

KEY_BYTES = 32  # AES-256
_COLUMNS = "(person VARCHAR PRIMARY KEY, key_id VARCHAR NOT NULL, key BLOB NOT NULL)"


@dataclass(frozen=True)
class PersonKey:
    """One person's key: ``secret`` encrypts, ``key_id`` tells this key from one made after a forget."""

    key_id: str
    secret: bytes = field(repr=False)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class KeyStore:
    """Secret keys by person id, in memory (``KeyStore()``) or in a DuckDB file of its own.

    ``random_bytes(n)`` is where new keys (and the cipher's nonces) come from:
    ``os.urandom`` unless a course notebook needs repeatable output, and never a
    seeded generator for real data.
    """

    def __init__(self, path: str | Path | None = None, *,
                 random_bytes: Callable[[int], bytes] = os.urandom):
        self.path = Path(path) if path is not None else None
        self.random_bytes = random_bytes
        self._lock = threading.RLock()
        self._con = self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb.connect(":memory:" if self.path is None else str(self.path))
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the key store {str(self.path)!r}: {str(exc).splitlines()[0]}; "
                             f"give the path of a key store file that no other process holds open") from None
        con.execute(f"CREATE TABLE IF NOT EXISTS person_keys {_COLUMNS}")
        return con

    def key_for(self, person: str) -> PersonKey:
        """The person's key, made on first use (a person forgotten before gets a new key, which reads
        only what is sealed from then on)."""
        check_name(person, "person")
        with self._lock:
            key = self.key(person)
            if key is None:
                secret = self.random_bytes(KEY_BYTES)
                if not isinstance(secret, bytes) or len(secret) != KEY_BYTES:
                    raise StoreError(f"random_bytes({KEY_BYTES}) returned {secret!r:.60}; it must return "
                                     f"{KEY_BYTES} bytes, as os.urandom does")
                key = PersonKey(self.random_bytes(6).hex(), secret)
                self._con.execute("INSERT INTO person_keys VALUES (?, ?, ?)", [person, key.key_id, secret])
            return key

    def key(self, person: str) -> PersonKey | None:
        """The person's key, or None if they have none (never had, or forgotten)."""
        with self._lock:
            rows = self._con.execute("SELECT key_id, key FROM person_keys WHERE person = ?",
                                     [person]).fetchall()
            return PersonKey(rows[0][0], bytes(rows[0][1])) if rows else None

    def forget(self, person: str) -> bool:
        """Destroy the person's key; True if there was one. Everything encrypted with it is unreadable."""
        check_name(person, "person")
        with self._lock:
            found = self.key(person) is not None
            self._con.execute("DELETE FROM person_keys WHERE person = ?", [person])
            if self.path is not None and found:
                self._rewrite()
            return found

    def backup(self, path: str | Path) -> Path:
        """Copy every key into a new key store file at ``path`` (which must not exist); returns its path.

        A copy of the open file would miss what is still in its write-ahead log.
        Remember that a backup keeps the keys of everyone forgotten after it was made.
        """
        path = Path(path)
        if path.exists():
            raise StoreError(f"{str(path)!r} exists already; give the backup a new file name")
        with self._lock:
            self._con.execute(f"ATTACH '{_quoted(path)}' AS copy")
            try:
                self._con.execute(f"CREATE TABLE copy.person_keys {_COLUMNS}")
                self._con.execute("INSERT INTO copy.person_keys SELECT * FROM person_keys ORDER BY person")
            finally:
                self._con.execute("DETACH copy")
        return path

    def _rewrite(self) -> None:
        """Copy the keys into a new file and put it in the old one's place, leaving no freed block behind."""
        fresh = self.path.with_name(self.path.name + ".rewrite")
        fresh.unlink(missing_ok=True)
        self.backup(fresh)
        self._con.close()
        Path(f"{self.path}.wal").unlink(missing_ok=True)  # closing checkpointed it into the old file
        fresh.replace(self.path)
        self._con = self._open()

    def people(self) -> list[str]:
        """The people who have a key, sorted."""
        with self._lock:
            rows = self._con.execute("SELECT person FROM person_keys ORDER BY 1").fetchall()
            return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._con.close()
