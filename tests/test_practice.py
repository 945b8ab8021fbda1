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


def test_the_figures_notebook_17_cites_are_what_docs_benchmarks_md_says():
    from pathlib import Path

    from eventlab.examples import measured

    page = (Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md").read_text()
    results = page.split("## Results: full size", 1)[1].split("\n## ", 1)[0]
    for figure in measured.FIGURES:
        rows = [line for line in results.splitlines() if line.startswith(figure.row)]
        assert len(rows) == 1, f"{figure.row!r} is not one row of the full-size results any more"
        stated = float(rows[0].split("|")[3].strip().replace(",", ""))
        in_table_unit = figure.value / 1000 if "seconds" in figure.row else figure.value
        assert stated == in_table_unit, (
            f"docs/benchmarks.md now says {stated} for {figure.what!r}; update "
            f"eventlab/examples/measured.py, its SOURCE, and notebook 17")
