"""Each stream kind's state <-> the JSON snapshot kept in its stream's state row.

A snapshot is a cache of the stream's events (the audit compares them), so its format may
change between releases as long as rows written before still read: each decoder below says
which older shapes it accepts.
"""

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ledger.codec.events import lots_data, lots_of
from ledger.codec.expiry import expiry_of
from ledger.codec.settings import plain_data, settings_data, settings_of, value_of
from ledger.domain.account import AccountState, Balances, Hold, PendingEarn
from ledger.domain.action_counts import ActionCounts, PeriodCount
from ledger.domain.kinds import ACCOUNT, KINDS, PROGRAM, REWARD_STOCK, Kind
from ledger.domain.program import ProgramState
from ledger.domain.referral_state import FriendReferral, ReferrerEntry
from ledger.domain.rewards import StockState
from ledger.domain.tier_state import TierStatus

JsonDict = dict[str, Any]
_State = TypeVar("_State")


def balances_data(balances: Balances) -> dict[str, int]:
    # Spelled out rather than dataclasses.asdict (this runs for every command written), in
    # jsonb's key order.
    return {
        "held": balances.held,
        "expired": balances.expired,
        "pending": balances.pending,
        "available": balances.available,
        "lifetime_earned": balances.lifetime_earned,
        "lifetime_redeemed": balances.lifetime_redeemed,
    }


def balances_of(data: dict[str, int]) -> Balances:
    return Balances(
        available=data["available"],
        pending=data["pending"],
        held=data["held"],
        lifetime_earned=data["lifetime_earned"],
        lifetime_redeemed=data["lifetime_redeemed"],
        expired=data["expired"],
    )


def _encode_account(state: AccountState) -> JsonDict:
    data: JsonDict = {
        "enrolled": state.enrolled,
        "forgotten": state.forgotten,
        "referral_code": state.referral_code,
        "balances": balances_data(state.balances),
        "lots": lots_data(state.lots),
        "pending": {
            order_id: {
                "points": entry.points,
                "release_at": entry.release_at,
                "expires_on": entry.expires_on,
            }
            for order_id, entry in state.pending.items()
        },
        "holds": {reservation_id: _hold_data(hold) for reservation_id, hold in state.holds.items()},
        "rewards_redeemed": dict(state.rewards_redeemed),
    }
    if state.balance_expires_at is not None:  # most programs have no inactivity expiry
        data["balance_expires_at"] = state.balance_expires_at
    # Left out while empty, so accounts that never did any of it keep rows as small as before.
    if state.action_counts:
        data["action_counts"] = action_counts_data(state.action_counts)
    if state.orders_recorded:
        data["orders_recorded"] = state.orders_recorded
        data["spend_minor"] = state.spend_minor
    if state.milestones_reached:
        data["milestones_reached"] = list(state.milestones_reached)
    if state.tier is not None:  # only members of programs with tiers
        data["tier"] = plain_data(state.tier)
    if state.referral is not None or state.referrals:
        data.update(referral_data(state))
    return data


def _hold_data(hold: Hold) -> JsonDict:
    data: JsonDict = {
        "points": hold.points,
        "expires_at": hold.expires_at,
        "taken": lots_data(hold.taken),
    }
    if hold.reward_id:
        data["reward_id"] = hold.reward_id
        data["stock_held"] = hold.stock_held
    return data


def _hold_of(data: JsonDict) -> Hold:
    # Holds written before rewards hold no reward_id: plain points holds.
    return Hold(
        data["points"],
        data["expires_at"],
        lots_of(data["taken"]),
        data.get("reward_id", ""),
        data.get("stock_held", False),
    )


def _decode_account(data: JsonDict) -> AccountState:
    # Rows written before orders left the snapshot also hold "orders" (every order the member
    # ever made); it is ignored: a command that names an order reads that order's events.
    return AccountState(
        enrolled=data["enrolled"],
        # Rows written before pseudonymous keys hold "member_id" (ignored) and no "forgotten".
        forgotten=data.get("forgotten", False),
        referral_code=data["referral_code"],
        balances=balances_of(data["balances"]),
        lots=lots_of(data["lots"]),
        pending={
            order_id: PendingEarn(
                entry["points"], entry["release_at"], expiry_of(entry["expires_on"])
            )
            for order_id, entry in data["pending"].items()
        },
        holds={reservation_id: _hold_of(hold) for reservation_id, hold in data["holds"].items()},
        # Rows written before the rewards catalogue hold no counts: no reward was redeemed.
        rewards_redeemed=dict(data.get("rewards_redeemed", {})),
        # Rows written before inactivity expiry hold no deadline.
        balance_expires_at=data.get("balance_expires_at"),
        # Rows written before actions and milestones hold none of these. Such an account's
        # purchases before the upgrade are not in orders_recorded (see docs: milestones).
        action_counts=action_counts_of(data.get("action_counts", {})),
        orders_recorded=data.get("orders_recorded", 0),
        spend_minor=dict(data.get("spend_minor", {})),
        milestones_reached=tuple(data.get("milestones_reached", ())),
        # Rows written before tiers, or of programs without them, hold none.
        tier=value_of(TierStatus, data["tier"], "tier") if "tier" in data else None,
        # Rows written before referrals hold none.
        referral=referral_of(data["referral"]) if "referral" in data else None,
        referrals={entry[0]: ReferrerEntry(*entry[1:]) for entry in data.get("referrals", ())},
        referral_credits=action_counts_of({"c": data["referral_credits"]})["c"]
        if "referral_credits" in data
        else ActionCounts(),
    )


def referral_data(state: AccountState) -> JsonDict:
    data: JsonDict = {}
    if state.referral is not None:
        referral = state.referral
        data["referral"] = [
            referral.referrer_key,
            referral.status,
            referral.reason,
            referral.order_id,
            referral.release_at,
            referral.points,
        ]
    if state.referrals:
        # A list, not an object: jsonb would sort an object's keys, and the referrals are
        # listed in the order they were made.
        data["referrals"] = [
            [friend_key, entry.status, entry.reason, entry.points]
            for friend_key, entry in state.referrals.items()
        ]
        data["referral_credits"] = action_counts_data({"c": state.referral_credits})["c"]
    return data


def referral_of(data: list[Any]) -> FriendReferral:
    return FriendReferral(*data)


_PERIODS = ("day", "week", "month", "year", "lifetime")


def action_counts_data(counts: dict[str, ActionCounts]) -> JsonDict:
    return {
        action_id: {
            period: [
                getattr(action, period).key,
                getattr(action, period).times,
                getattr(action, period).points,
            ]
            for period in _PERIODS
        }
        for action_id, action in counts.items()
    }


def action_counts_of(data: JsonDict) -> dict[str, ActionCounts]:
    return {
        action_id: ActionCounts(**{period: PeriodCount(*periods[period]) for period in _PERIODS})
        for action_id, periods in data.items()
    }


def _encode_program(state: ProgramState) -> JsonDict:
    return {
        "revision": state.revision,
        "program_id": state.program_id,
        "settings": settings_data(state.settings),
    }


def _decode_program(data: JsonDict) -> ProgramState:
    # Rows written before kinds had snapshot codecs nest the state under "program", beside the
    # time of the last change (now the row's own updated_at).
    if "program" in data:
        data = data["program"]
    return ProgramState(data["revision"], data["program_id"], settings_of(data["settings"]))


def _encode_stock(state: StockState) -> JsonDict:
    return {"holds": dict(state.holds), "issued": state.issued}


def _decode_stock(data: JsonDict) -> StockState:
    return StockState(data["issued"], dict(data["holds"]))


_CODECS: dict[str, tuple[Callable[[Any], JsonDict], Callable[[JsonDict], Any]]] = {
    ACCOUNT.name: (_encode_account, _decode_account),
    PROGRAM.name: (_encode_program, _decode_program),
    REWARD_STOCK.name: (_encode_stock, _decode_stock),
}
assert _CODECS.keys() == {kind.name for kind in KINDS}, "every kind has a snapshot codec"


def encode(kind: Kind[_State], state: _State) -> JsonDict:
    return _CODECS[kind.name][0](state)


def decode(kind: Kind[_State], data: JsonDict) -> _State:
    return cast(_State, _CODECS[kind.name][1](data))
