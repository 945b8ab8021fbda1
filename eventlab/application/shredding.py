"""Personal data in an immutable log: encrypt it per person, forget a person by destroying their key.

An event log never changes, and its hash chain proves it; a person's right to
be forgotten asks that their data go. *Crypto-shredding* reconciles the two:
each personal value is sealed (AES-256-GCM, from the ``cryptography`` package)
with a key of that person's, kept outside the log in a
:class:`~eventlab.storage.keystore.KeyStore`. :meth:`PersonalData.forget`
destroys the key. The events keep their place, their bytes and their hashes
(``store.verify()`` still passes), and every replay from then on shows
:data:`FORGOTTEN` where the data was.

What it does not do: erase plaintext copies made while the key existed (read
models, caches, exports, e-mails sent, backups of the key store), nor what is
not sealed (ids, times, amounts, the fact that a person had an account).

>>> pii = PersonalData(KeyStore())
>>> sealed = pii.seal("customer-7", "Ada Lovelace")
>>> pii.reveal(sealed)
'Ada Lovelace'
>>> pii.forget("customer-7")
True
>>> pii.reveal(sealed)
'[forgotten]'
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventlab.core.events import RecordedEvent, check_name
from eventlab.errors import EventLabError
from eventlab.storage.keystore import KeyStore

FORGOTTEN = "[forgotten]"
"""What a sealed value reads as once its person's key is destroyed."""

PREFIX = "sealed:v1:"
"""Sealed values are text: ``sealed:v1:<person>:<key id>:<base64 of nonce + ciphertext>``."""

NONCE_BYTES = 12


class SealError(EventLabError):
    """A sealed value that cannot be opened with its person's existing key: altered, or not sealed here."""


class PersonalData:
    """Seals and reveals personal values with a key per person from ``keys``."""

    def __init__(self, keys: KeyStore):
        self.keys = keys

    def seal(self, person: str, value: str) -> str:
        """``value`` encrypted with ``person``'s key, as text to store in an event's data.

        The person's id is authenticated with it, so a sealed value copied into
        another person's event does not open.
        """
        check_name(person, "person")
        if ":" in person:
            raise EventLabError(f"person id {person!r} contains ':', which sealed values use as a separator; "
                                f"use an id without it, e.g. {person.replace(':', '-')!r}")
        if not isinstance(value, str):
            raise EventLabError(f"only text is sealed, got {type(value).__name__} ({value!r:.60}); "
                                f"convert it first, e.g. str(value) or json.dumps(value)")
        key = self.keys.key_for(person)
        nonce = self.keys.random_bytes(NONCE_BYTES)
        ciphertext = AESGCM(key.secret).encrypt(nonce, value.encode(), person.encode())
        return f"{PREFIX}{person}:{key.key_id}:{base64.b64encode(nonce + ciphertext).decode('ascii')}"

    def reveal(self, value: Any) -> Any:
        """The plaintext of a sealed value, :data:`FORGOTTEN` if its person was forgotten; other values as
        they are."""
        if not is_sealed(value):
            return value
        try:
            person, key_id, payload = value.removeprefix(PREFIX).split(":")
            raw = base64.b64decode(payload, validate=True)
        except ValueError:
            raise SealError(f"{value[:60]!r} starts like a sealed value but is not one; expected "
                            f"'{PREFIX}<person>:<key id>:<base64>'") from None
        key = self.keys.key(person)
        if key is None or key.key_id != key_id:  # destroyed (and perhaps made anew since)
            return FORGOTTEN
        try:
            return AESGCM(key.secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], person.encode()).decode()
        except InvalidTag:
            raise SealError(f"the sealed value {value[:40]!r}... does not open with the key of {person!r}: "
                            f"it was altered after it was sealed") from None

    def reveal_data(self, data: Any) -> Any:
        """``data`` with every sealed value in it (nested in dicts and lists too) revealed."""
        if isinstance(data, dict):
            return {key: self.reveal_data(item) for key, item in data.items()}
        if isinstance(data, list):
            return [self.reveal_data(item) for item in data]
        return self.reveal(data)

    def reveal_all(self, events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
        """Stored events with their data revealed, ready for ``eventlab.replay``. The store is not touched."""
        return [dataclasses.replace(event, data=self.reveal_data(event.data)) for event in events]

    def forget(self, person: str) -> bool:
        """Destroy ``person``'s key: everything sealed for them reads :data:`FORGOTTEN` from now on."""
        return self.keys.forget(person)


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is a sealed value (text starting with :data:`PREFIX`)."""
    return isinstance(value, str) and value.startswith(PREFIX)
