"""Crypto-shredding: forgotten data is unreadable, the chain still verifies, nothing else changed."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import eventlab
from eventlab.application.shredding import FORGOTTEN, PersonalData, SealError
from eventlab.examples import members
from eventlab.storage.keystore import KeyStore


def join(store, pii, member_id, name, email, country="UK"):
    stream = members.stream_id(member_id)
    eventlab.handle(store, members.decider, stream, members.Join(
        member_id, pii.seal(stream, name), pii.seal(stream, email), country))
    eventlab.handle(store, members.decider, stream, members.EarnPoints(member_id, 10))
    return stream


@pytest.fixture
def club(tmp_path):
    store = eventlab.EventStore(tmp_path / "club.duckdb")
    keys = KeyStore(tmp_path / "keys.duckdb", random_bytes=random.Random(3).randbytes)
    pii = PersonalData(keys)
    ada = join(store, pii, "ada", "Ada Lovelace", "ada@example.org")
    grace = join(store, pii, "grace", "Grace Hopper", "grace@example.org", "US")
    eventlab.handle(store, members.decider, ada, members.ChangeEmail("ada", pii.seal(ada, "ada@lovelace.uk")))
    yield store, keys, pii, ada, grace
    store.close()
    keys.close()


def member(store, pii, stream):
    return eventlab.replay(pii.reveal_all(store.read(stream)), members.decider)


def test_the_log_holds_no_plaintext_and_replays_reveal_it(club, tmp_path):
    store, keys, pii, ada, _ = club
    now = member(store, pii, ada)
    assert (now.name, now.email) == ("Ada Lovelace", "ada@lovelace.uk")
    store.sql("CHECKPOINT")
    raw = (tmp_path / "club.duckdb").read_bytes()
    assert b"Ada Lovelace" not in raw and b"lovelace.uk" not in raw
    assert "Ada" not in str(store.read_all_df()["data"].tolist())


def test_forgetting_makes_the_data_unreadable_and_changes_nothing_else(club, tmp_path):
    store, keys, pii, ada, grace = club
    before = store.sql("SELECT * FROM events ORDER BY position").fetchall()
    ada_key = keys.key(ada)
    assert pii.forget(ada)
    assert store.sql("SELECT * FROM events ORDER BY position").fetchall() == before  # every byte, every hash
    assert store.verify().ok and store.verify().events_checked == len(before)
    forgotten = member(store, pii, ada)
    assert (forgotten.name, forgotten.email) == (FORGOTTEN, FORGOTTEN)
    assert (forgotten.points, forgotten.country, forgotten.joined) == (10, "UK", True)  # not personal: kept
    assert member(store, pii, grace).name == "Grace Hopper"
    # unreadable: no remaining key opens Ada's values, and her key's bytes are gone from the key file
    sealed = store.read(ada)[0].data["name"]
    raw = base64.b64decode(sealed.split(":")[-1])
    for person in keys.people():
        with pytest.raises(InvalidTag):
            AESGCM(keys.key(person).secret).decrypt(raw[:12], raw[12:], ada.encode())
    assert ada_key.secret not in (tmp_path / "keys.duckdb").read_bytes()
    assert keys.key(grace).secret in (tmp_path / "keys.duckdb").read_bytes()


def test_a_person_who_returns_gets_a_new_key_and_the_old_data_stays_forgotten(club):
    store, keys, pii, ada, _ = club
    old = store.read(ada)[0].data["name"]
    pii.forget(ada)
    new = pii.seal(ada, "Ada King")
    assert (pii.reveal(old), pii.reveal(new)) == (FORGOTTEN, "Ada King")
    assert not pii.forget("nobody")


def test_a_value_moved_to_another_person_or_altered_does_not_open(club):
    store, keys, pii, ada, grace = club
    sealed = store.read(ada)[0].data["name"]
    person, key_id, payload = sealed.removeprefix("sealed:v1:").split(":")
    grace_key = keys.key(grace).key_id
    with pytest.raises(SealError, match="altered"):
        pii.reveal(f"sealed:v1:{grace}:{grace_key}:{payload}")
    flipped = base64.b64encode(bytes([base64.b64decode(payload)[0] ^ 1]) + base64.b64decode(payload)[1:])
    with pytest.raises(SealError, match="altered"):
        pii.reveal(f"sealed:v1:{person}:{key_id}:{flipped.decode()}")
    with pytest.raises(SealError, match="not one"):
        pii.reveal("sealed:v1:broken")


def test_plaintext_is_refused_before_it_reaches_the_log():
    store, pii = eventlab.EventStore(), PersonalData(KeyStore())
    with pytest.raises(eventlab.CommandRejected, match="name must be sealed"):
        eventlab.handle(store, members.decider, "member-x", members.Join(
            "x", "Plain Name", pii.seal("member-x", "x@example.org"), "FR"))
    assert store.count() == 0
    with pytest.raises(eventlab.EventLabError, match="only text is sealed"):
        pii.seal("member-x", 42)


def test_the_key_store_survives_a_reopen(tmp_path):
    keys = KeyStore(tmp_path / "keys.duckdb")
    pii = PersonalData(keys)
    sealed = pii.seal("member-a", "A")
    pii.seal("member-b", "B")
    pii.forget("member-b")
    keys.close()
    reopened = PersonalData(KeyStore(tmp_path / "keys.duckdb"))
    assert reopened.reveal(sealed) == "A" and reopened.keys.people() == ["member-a"]


def test_a_backup_keeps_the_keys_of_people_forgotten_after_it(tmp_path):
    keys = KeyStore(tmp_path / "keys.duckdb")
    pii = PersonalData(keys)
    sealed = pii.seal("member-a", "A")
    keys.backup(tmp_path / "backup.duckdb")
    pii.forget("member-a")
    assert pii.reveal(sealed) == FORGOTTEN
    assert PersonalData(KeyStore(tmp_path / "backup.duckdb")).reveal(sealed) == "A"
    with pytest.raises(eventlab.StoreError, match="exists already"):
        keys.backup(tmp_path / "backup.duckdb")
