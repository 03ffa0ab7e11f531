"""What a command returns to its caller, stored with its request id so a retry gets the very
same answer back. Plain data, so it survives JSON and the service can map it to any API."""

from dataclasses import dataclass
from typing import Any

from ledger.domain.account import AccountState, Balances
from ledger.domain.events import LotPortion
from ledger.domain.frozen import build
from ledger.domain.program import ProgramState

MAX_EXPIRING_LISTED = 10


@dataclass(frozen=True)
class AccountView:
    program_id: str
    member_id: str
    version: int
    balances: Balances
    expiring: tuple[LotPortion, ...]
    referral_code: str
    created_at: str

    @classmethod
    def of(
        cls, program_id: str, state: AccountState, version: int, created_at: str
    ) -> "AccountView":
        expiring = tuple(p for p in state.lots if p.expires_on is not None)
        # Built for every command answered: the frozen __init__'s setattr per field is most
        # of its cost.
        return build(
            cls,
            program_id=program_id,
            member_id=state.member_id,
            version=version,
            balances=state.balances,
            expiring=expiring[:MAX_EXPIRING_LISTED],
            referral_code=state.referral_code,
            created_at=created_at,
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "program_id": self.program_id,
            "member_id": self.member_id,
            "version": self.version,
            "balances": self.balances.to_data(),
            "expiring": [p.to_data() for p in self.expiring],
            "referral_code": self.referral_code,
            "created_at": self.created_at,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "AccountView":
        return cls(
            program_id=data["program_id"],
            member_id=data["member_id"],
            version=data["version"],
            balances=Balances(**data["balances"]),
            expiring=tuple(LotPortion.from_data(p) for p in data["expiring"]),
            referral_code=data["referral_code"],
            created_at=data["created_at"],
        )


@dataclass(frozen=True)
class ProgramView:
    state: ProgramState
    created_at: str
    updated_at: str

    def to_data(self) -> dict[str, Any]:
        return {
            "state": self.state.to_data(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "ProgramView":
        return cls(ProgramState.from_data(data["state"]), data["created_at"], data["updated_at"])


@dataclass(frozen=True)
class AppendedEvent:
    stream_id: str
    version: int
    event_type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The events a command appended and the streams it touched, right after."""

    events: tuple[AppendedEvent, ...]
    accounts: dict[str, AccountView]
    program: ProgramView | None = None

    def events_of(self, event_type: str) -> list[AppendedEvent]:
        return [event for event in self.events if event.event_type == event_type]

    def to_data(self) -> dict[str, Any]:
        return {
            "events": [
                {
                    "stream_id": event.stream_id,
                    "version": event.version,
                    "event_type": event.event_type,
                    "data": event.data,
                }
                for event in self.events
            ],
            "accounts": {key: view.to_data() for key, view in self.accounts.items()},
            "program": self.program.to_data() if self.program else None,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Outcome":
        return cls(
            events=tuple(AppendedEvent(**event) for event in data["events"]),
            accounts={key: AccountView.from_data(view) for key, view in data["accounts"].items()},
            program=ProgramView.from_data(data["program"]) if data["program"] else None,
        )
