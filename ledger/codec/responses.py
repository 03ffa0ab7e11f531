"""A command's answer <-> the JSON stored with its request id, given back to every retry.

    {"result": {"type": <result class>, <its fields>},
     "accounts": {<member id>: <account view>}, "program": <program view> | null}

Answers stored before results were typed (log v1) hold the events the command appended
instead of "result": their result is worked out from those events and the retried command,
by the same domain function that works it out when a command is decided.
"""

import dataclasses
from typing import Any

from ledger.codec import events as event_codec
from ledger.codec.events import lots_data, lots_of
from ledger.codec.settings import plain_data, settings_data, settings_of, value_of
from ledger.codec.snapshots import balances_data, balances_of
from ledger.domain import results
from ledger.domain.commands import Command
from ledger.domain.compat import ADDED_LATER
from ledger.domain.decide import result as result_of
from ledger.domain.program import ProgramState
from ledger.domain.tier_state import TierView
from ledger.outcomes import AccountView, Outcome, ProgramView

JsonDict = dict[str, Any]

_RESULT_TYPES: dict[str, type[results.Result]] = {
    cls.__name__: cls
    for cls in (
        results.Result,
        results.PurchaseResult,
        results.ConfirmResult,
        results.RefundResult,
        results.ReservationResult,
        results.CommitResult,
        results.CancelResult,
        results.ImportResult,
        results.RewardResult,
        results.ActionResult,
    )
}


_ADDED_LATER: dict[type, tuple[tuple[str, Any], ...]] = {}


def _added_later(cls: type) -> tuple[tuple[str, Any], ...]:
    found = _ADDED_LATER.get(cls)
    if found is None:
        found = tuple(
            (item.name, item.default)
            for item in dataclasses.fields(cls)
            if item.metadata.get(ADDED_LATER)
        )
        _ADDED_LATER[cls] = found
    return found


def _result_data(result: results.Result) -> JsonDict:
    """A result's fields; those added later are left out while at their defaults, so the
    answers of commands that never used them are stored as before."""
    data: JsonDict = plain_data(result)
    for name, default in _added_later(type(result)):
        if getattr(result, name) == default:
            del data[name]
    return data


def encode(outcome: Outcome) -> JsonDict:
    return {
        "result": {"type": type(outcome.result).__name__, **_result_data(outcome.result)},
        "accounts": {key: account_data(view) for key, view in outcome.accounts.items()},
        "program": _program_data(outcome.program) if outcome.program else None,
    }


def decode(data: JsonDict, command: Command) -> Outcome:
    """The stored answer to `command` (the retry's command: the same content as the one
    answered, since its request hash matched)."""
    if "result" in data:
        stored = dict(data["result"])
        cls = _RESULT_TYPES[stored.pop("type")]
        # Fields a result gained later (a purchase's rules) take their defaults when missing.
        result = results.DONE if cls is results.Result else value_of(cls, stored, "result")
    else:
        appended = [
            event_codec.decode(event["event_type"], 1, event["data"]) for event in data["events"]
        ]
        result = result_of(command, appended)
    return Outcome(
        result=result,
        accounts={key: _account_of(view) for key, view in data["accounts"].items()},
        program=_program_of(data["program"]) if data["program"] else None,
    )


def account_data(view: AccountView) -> JsonDict:
    return {
        "program_id": view.program_id,
        "member_id": view.member_id,
        "version": view.version,
        "balances": balances_data(view.balances),
        "expiring": lots_data(view.expiring),
        "referral_code": view.referral_code,
        "created_at": view.created_at,
        **(
            {"balance_expires_at": view.balance_expires_at}
            if view.balance_expires_at is not None
            else {}
        ),
        **({"tier": plain_data(view.tier)} if view.tier is not None else {}),
    }


def _account_of(data: JsonDict) -> AccountView:
    return AccountView(
        program_id=data["program_id"],
        member_id=data["member_id"],
        version=data["version"],
        balances=balances_of(data["balances"]),
        expiring=lots_of(data["expiring"]),
        referral_code=data["referral_code"],
        created_at=data["created_at"],
        # Answers stored before inactivity expiry hold none.
        balance_expires_at=data.get("balance_expires_at"),
        # Answers stored before tiers, or of programs without them, hold none.
        tier=value_of(TierView, data["tier"], "tier") if "tier" in data else None,
    )


def _program_data(view: ProgramView) -> JsonDict:
    state = view.state
    return {
        "state": {
            "revision": state.revision,
            "program_id": state.program_id,
            "settings": settings_data(state.settings),
        },
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


def _program_of(data: JsonDict) -> ProgramView:
    state = data["state"]
    return ProgramView(
        ProgramState(state["revision"], state["program_id"], settings_of(state["settings"])),
        data["created_at"],
        data["updated_at"],
    )
