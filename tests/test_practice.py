"""The checks of notebooks 14 to 17 accept a right answer and reject the usual wrong ones, saying why."""

from __future__ import annotations

import math

import eventlab
from eventlab.application.processes import Send
from eventlab.examples import checkout, members, practice

refund_and_cancel = checkout.compensation  # the reference answer


def test_compensation_right_and_wrong():
    assert practice.check_compensation(refund_and_cancel)
    cancel_only = practice.check_compensation(lambda s, r: refund_and_cancel(s, r)[1:])
    assert not cancel_only and "Refund it" in cancel_only.message
    refund_only = practice.check_compensation(lambda s, r: refund_and_cancel(s, r)[:1])
    assert not refund_only and "Cancel it too" in refund_only.message
    cancel_payment = practice.check_compensation(lambda s, r: [
        Send(checkout.payments, f"payment-{s.order_id}", checkout.CancelPayment(s.order_id, r))])
    assert not cancel_payment and "refused" in cancel_payment.message

    def unsolved(state, reason):
        raise NotImplementedError
    assert "NotImplementedError" in practice.check_compensation(unsolved).message


def idempotent(message, points, seen):
    if message.message_id in seen:
        return
    seen.add(message.message_id)
    order = message.data["order_id"]
    if message.type == "shop.order-paid.v1":
        points[order] = points.get(order, 0) + math.floor(message.data["amount"])
    else:
        points[order] = 0


def test_idempotent_consumer_right_and_wrong():
    assert practice.check_idempotent_consumer(idempotent)

    def naive(message, points, seen):
        idempotent(message, points, set())
    verdict = practice.check_idempotent_consumer(naive)
    assert not verdict and "counted twice" in verdict.message

    def by_order(message, points, seen):
        if message.data["order_id"] in seen:
            return
        seen.add(message.data["order_id"])
        idempotent(message, points, set())
    verdict = practice.check_idempotent_consumer(by_order)
    assert not verdict and "not order_id" in verdict.message


def card(store, pii, member_id):
    state = eventlab.replay(pii.reveal_all(store.read(members.stream_id(member_id))), members.decider)
    return {"name": state.name, "email": state.email, "points": state.points}


def test_member_card_right_and_wrong():
    assert practice.check_member_card(card)
    cache: dict = {}

    def cached(store, pii, member_id):
        return cache.setdefault(member_id, card(store, pii, member_id))
    verdict = practice.check_member_card(cached)
    assert not verdict and "plaintext copy" in verdict.message

    def unrevealed(store, pii, member_id):
        state = eventlab.replay(store.read(members.stream_id(member_id)), members.decider)
        return {"name": state.name, "email": state.email, "points": state.points}
    verdict = practice.check_member_card(unrevealed)
    assert not verdict and "reveal the sealed data" in verdict.message


def test_fit_right_and_wrong():
    right = {case: fit for case, (_, fit, _) in practice.CASES.items()}
    assert practice.check_fit(right)
    everywhere = practice.check_fit(dict.fromkeys(practice.CASES, "event sourcing"))
    assert not everywhere and "everywhere" in everywhere.message and "telemetry" in everywhere.message
    assert "missing" in practice.check_fit({"ledger": "event sourcing"}).message
    assert "not ['maybe']" in practice.check_fit({**right, "orders": "maybe"}).message
