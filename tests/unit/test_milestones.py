"""Milestones: a bonus the first time a member reaches the Nth order or a lifetime spend,
once per member; a full refund of the order that reached one claws the bonus back or keeps
it, as the program says, under the program's negative-balance policy."""

import dataclasses
import json
from datetime import timedelta

from ledger.codec import responses, snapshots
from ledger.domain.account import AccountState
from ledger.domain.commands import RecordPurchase, RedeemPoints, RefundPurchase
from ledger.domain.decide import result
from ledger.domain.events import MilestoneClawedBack, MilestoneReached, PurchaseRecorded
from ledger.domain.kinds import ACCOUNT
from ledger.domain.milestone_settings import Milestone, MilestoneRefundPolicy
from ledger.domain.program import ProgramState
from ledger.domain.results import PurchaseResult, RefundResult
from ledger.domain.settings import NegativeBalancePolicy
from ledger.outcomes import Outcome

from .scenario import EXPIRES, PROGRAM, T0, enrolled, given, lot, then, when

THIRD_ORDER = Milestone("third_order", 300, order_count=3)
SPENT_500_USD = Milestone(
    "spent_500_usd", 1_000, spend_currency_code="USD", spend_amount_minor=50_000
)


def milestones_program(
    *milestones: Milestone,
    refund_policy: MilestoneRefundPolicy = MilestoneRefundPolicy.CLAW_BACK,
    negative_balance_policy: NegativeBalancePolicy = NegativeBalancePolicy.WITHIN_BALANCE,
) -> ProgramState:
    settings = dataclasses.replace(
        PROGRAM.settings,
        milestones=milestones,
        milestone_refund_policy=refund_policy,
        negative_balance_policy=negative_balance_policy,
        return_window_days=0,
    )
    return dataclasses.replace(PROGRAM, revision=2, settings=settings)


MILESTONES = milestones_program(THIRD_ORDER, SPENT_500_USD)


def buy(
    state: AccountState, order_id: str, amount_minor: int, program: ProgramState = MILESTONES
) -> tuple[PurchaseResult, AccountState]:
    command = RecordPurchase(order_id, amount_minor, "USD", 2)
    events = when(state, command, program=program)
    answer = result(command, events)
    assert isinstance(answer, PurchaseResult)
    return answer, then(state, events)


def refund(
    state: AccountState, order_id: str, amount_minor: int, program: ProgramState
) -> tuple[RefundResult, AccountState, list[MilestoneClawedBack]]:
    command = RefundPurchase(order_id, amount_minor, "USD")
    events = when(state, command, now=T0 + timedelta(days=1), program=program)
    answer = result(command, events)
    assert isinstance(answer, RefundResult)
    clawbacks = [event for event in events if isinstance(event, MilestoneClawedBack)]
    return answer, then(state, events), clawbacks


def three_orders(program: ProgramState = MILESTONES) -> AccountState:
    state: AccountState = given(enrolled())
    for order_id in ("o-1", "o-2", "o-3"):
        _, state = buy(state, order_id, 1_000, program)
    return state


def test_the_third_order_reaches_the_milestone_in_an_event_after_the_purchase() -> None:
    _, state = buy(given(enrolled()), "o-1", 1_000)
    _, state = buy(state, "o-2", 1_000)

    events = when(state, RecordPurchase("o-3", 1_000, "USD", 2), program=MILESTONES)

    assert isinstance(events[0], PurchaseRecorded)
    assert events[1:] == [MilestoneReached("third_order", "o-3", 300, EXPIRES, 2)]
    answer = result(RecordPurchase("o-3", 1_000, "USD", 2), events)
    assert isinstance(answer, PurchaseResult)
    assert (answer.points, answer.milestone_points, answer.milestone_ids) == (
        10,
        300,
        ("third_order",),
    )
    assert then(state, events).balances.available == 330


def test_a_milestone_is_reached_only_once() -> None:
    state = three_orders()

    answers = []
    for order_id in ("o-4", "o-5", "o-6"):
        answer, state = buy(state, order_id, 1_000)
        answers.append(answer.milestone_points)

    assert answers == [0, 0, 0]
    assert state.milestones_reached == ("third_order",)
    assert state.balances.available == 60 + 300


def test_a_lifetime_spend_milestone_counts_only_its_currency_and_is_crossed_once() -> None:
    spend = milestones_program(SPENT_500_USD)
    _, state = buy(given(enrolled()), "o-1", 30_000, spend)
    jpy, state = buy_yen(state, "o-2", 10_000_000, spend)
    assert jpy.milestone_points == 0  # 10 million yen are no dollars
    crossing, state = buy(state, "o-3", 20_000, spend)
    assert crossing.milestone_points == 1_000
    beyond, state = buy(state, "o-4", 90_000, spend)
    assert beyond.milestone_points == 0


def buy_yen(
    state: AccountState, order_id: str, amount: int, program: ProgramState
) -> tuple[PurchaseResult, AccountState]:
    command = RecordPurchase(order_id, amount, "JPY", 0)
    events = when(state, command, program=program)
    answer = result(command, events)
    assert isinstance(answer, PurchaseResult)
    return answer, then(state, events)


def test_a_full_refund_of_the_order_that_reached_it_claws_the_bonus_back() -> None:
    state = three_orders()
    assert state.balances.available == 330

    answer, state, clawbacks = refund(state, "o-3", 1_000, MILESTONES)

    assert answer == RefundResult(
        10, 0, milestone_points_clawed_back=300, milestone_ids_clawed_back=("third_order",)
    )
    assert clawbacks == [MilestoneClawedBack("third_order", "o-3", 300, (lot(EXPIRES, 300),), 0, 0)]
    assert state.balances.available == 20
    assert state.balances.lifetime_earned == 20
    # Reached once: a later order does not give it again.
    again, state = buy(state, "o-4", 1_000)
    assert again.milestone_points == 0


def test_under_keep_the_member_keeps_the_bonus_of_a_refunded_order() -> None:
    keep = milestones_program(THIRD_ORDER, refund_policy=MilestoneRefundPolicy.KEEP)
    state = three_orders(keep)

    answer, state, clawbacks = refund(state, "o-3", 1_000, keep)

    assert clawbacks == []
    assert answer == RefundResult(10, 0)
    assert state.balances.available == 320


def test_a_partial_refund_leaves_the_milestone_and_the_rest_of_the_refund_takes_it() -> None:
    state = three_orders()

    answer, state, clawbacks = refund(state, "o-3", 400, MILESTONES)
    assert clawbacks == [] and answer.milestone_points_clawed_back == 0

    answer, state, clawbacks = refund(state, "o-3", 600, MILESTONES)
    assert answer.milestone_points_clawed_back == 300
    assert state.balances.available == 20


def test_a_clawback_of_spent_points_follows_the_negative_balance_policy() -> None:
    taken = {}
    for policy in NegativeBalancePolicy:
        program = milestones_program(THIRD_ORDER, negative_balance_policy=policy)
        state = three_orders(program)
        state = then(state, when(state, RedeemPoints(300), program=program))  # 30 left

        answer, state, clawbacks = refund(state, "o-3", 1_000, program)

        (clawback,) = clawbacks
        taken[policy] = (
            answer.milestone_points_clawed_back,
            clawback.points_not_recovered,
            state.balances.available,
        )
    # The refund takes 10 of the 30 left (none under pending_only: no points are pending);
    # the clawback takes what the same policy allows of 300.
    assert taken == {
        NegativeBalancePolicy.PENDING_ONLY: (0, 300, 30),
        NegativeBalancePolicy.WITHIN_BALANCE: (20, 280, 0),
        NegativeBalancePolicy.ALLOW_NEGATIVE: (300, 0, -280),
    }


def test_a_program_without_milestones_appends_only_the_purchase() -> None:
    state: AccountState = given(enrolled())
    for order_id in ("o-1", "o-2", "o-3"):
        events = when(state, RecordPurchase(order_id, 1_000, "USD", 2))
        assert [type(event) for event in events] == [PurchaseRecorded]
        state = then(state, events)
    assert state.orders_recorded == 3


def test_counters_and_milestones_round_trip_through_the_snapshot_and_old_rows_still_read() -> None:
    state = three_orders()
    restored = snapshots.decode(ACCOUNT, snapshots.encode(ACCOUNT, state))
    assert restored.orders_recorded == 3
    assert restored.spend_minor == {"USD": 3_000}
    assert restored.milestones_reached == ("third_order",)

    old_row = snapshots.encode(ACCOUNT, given(enrolled()))
    for key in ("action_counts", "orders_recorded", "spend_minor", "milestones_reached"):
        assert key not in old_row  # written as before while empty
    assert snapshots.decode(ACCOUNT, old_row) == AccountState(
        enrolled=True, referral_code=given(enrolled()).referral_code
    )


def test_a_purchase_answer_without_milestones_is_stored_as_before_and_with_them_round_trips() -> (
    None
):
    plain = Outcome(result=PurchaseResult(10, False), accounts={}, program=None)
    reached = Outcome(
        result=PurchaseResult(10, False, milestone_points=300, milestone_ids=("third_order",)),
        accounts={},
        program=None,
    )
    command = RecordPurchase("o-1", 1_000, "USD", 2)

    assert "milestone_points" not in responses.encode(plain)["result"]
    assert "milestone_ids" not in responses.encode(plain)["result"]
    stored = json.loads(json.dumps(responses.encode(reached)))
    assert responses.decode(stored, command).result == reached.result
