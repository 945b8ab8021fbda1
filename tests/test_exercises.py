"""The exercise checks accept right answers and explain wrong ones."""

from __future__ import annotations

from eventlab import CommandRejected
from eventlab.exercises import (
    Account,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    check_decide,
    check_evolve,
    check_paid_per_day,
    check_status_at,
    practice_shop,
)


def good_evolve(state, event):
    match event:
        case AccountOpened(owner=owner):
            return Account(owner, 0)
        case MoneyDeposited(amount=amount):
            return Account(state.owner, state.balance + amount)
        case MoneyWithdrawn(amount=amount):
            return Account(state.owner, state.balance - amount)
    return state


def test_evolve_check():
    assert check_evolve(good_evolve)
    forgets_withdrawals = lambda s, e: s if isinstance(e, MoneyWithdrawn) else good_evolve(s, e)  # noqa: E731
    verdict = check_evolve(forgets_withdrawals)
    assert not verdict and "should be" in verdict.message
    unwritten = repr(check_evolve(lambda s, e: (_ for _ in ()).throw(NotImplementedError)))
    assert unwritten.startswith("❌ Not yet: evolve still raises NotImplementedError")


def test_decide_check():
    def good(command, state):
        if state.owner is None or not 0 < command.amount <= state.balance:
            raise CommandRejected("no")
        return [MoneyWithdrawn(command.account_id, command.amount)]

    def allows_overdraft(command, state):
        return [MoneyWithdrawn(command.account_id, command.amount)]

    assert check_decide(good)
    assert "should give rejected" in check_decide(allows_overdraft).message
    unwritten = check_decide(lambda command, state: (_ for _ in ()).throw(NotImplementedError))
    assert not unwritten and "decide still raises NotImplementedError" in unwritten.message


def test_time_travel_and_sql_checks():
    shop = practice_shop()
    assert check_status_at(shop, "Shipped")
    assert not check_status_at(shop, "Placed")
    assert not check_status_at(shop, None)
    assert "answer is still None" in check_status_at(shop, None).message
    right = ("SELECT recorded_at::DATE AS day, count(*) AS orders, sum((data->>'amount')::DOUBLE) AS amount "
             "FROM events WHERE type = 'OrderPaid' GROUP BY day ORDER BY day")
    assert check_paid_per_day(shop, right)
    assert not check_paid_per_day(shop, None) and "still None" in check_paid_per_day(shop, None).message
    assert "fails" in check_paid_per_day(shop, "SELECT nonsense FROM").message
    assert "columns" in check_paid_per_day(shop, "SELECT 1 AS x").message
    assert not check_paid_per_day(shop, right.replace("'OrderPaid'", "'OrderPlaced'"))


def test_the_practice_shop_is_always_the_same():
    assert practice_shop().verify().head_hash == practice_shop().verify().head_hash


def test_messages_are_plain_text():
    """Verdicts show as text/plain only: Markdown backticks would print literally."""
    shop = practice_shop()
    unwritten = lambda *args: (_ for _ in ()).throw(NotImplementedError)  # noqa: E731
    for verdict in (check_evolve(unwritten), check_decide(unwritten), check_status_at(shop, None),
                    check_status_at(shop, "Placed"), check_paid_per_day(shop, None),
                    check_paid_per_day(shop, "SELECT 1 AS x")):
        assert "`" not in repr(verdict)
