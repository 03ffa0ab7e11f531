"""Events: what happened, as decided. Replay never re-runs a rule; it only folds these.

Every event type carries a schema version. Data is JSON-native (int, str, bool, None, lists
and dicts of those) so its canonical bytes are well defined; dates are ISO-8601 strings
("2026-11-22"), instants are UTC ISO-8601 with microseconds and a Z suffix. Older schema
versions are upcast on read in `upcast`, so old events stay readable forever.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class LotPortion:
    """Points taken from (or given back to) the lot that expires on `expires_on` (None: never)."""

    expires_on: str | None
    points: int

    def to_data(self) -> JsonDict:
        # Key order is jsonb's (shorter keys first), the canonical order of the hash chain.
        return {"points": self.points, "expires_on": self.expires_on}

    @classmethod
    def from_data(cls, data: JsonDict) -> "LotPortion":
        return cls(expires_on=data["expires_on"], points=data["points"])


Lots = tuple[LotPortion, ...]


@dataclass(frozen=True)
class Event:
    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    def to_data(self) -> JsonDict:
        data: JsonDict = {}
        for name in self._field_names():
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [portion.to_data() for portion in value]
            data[name] = value
        return data

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        """Field names in jsonb's key order (byte length, then bytewise), so to_data() comes
        out already in the order the hash chain's canonical text needs."""
        names: tuple[str, ...] | None = cls.__dict__.get("_names")
        if names is None:
            names = tuple(
                sorted(
                    (item.name for item in dataclasses.fields(cls)),
                    key=lambda name: (len(name.encode()), name.encode()),
                )
            )
            cls._names = names  # type: ignore[attr-defined]
        return names

    @property
    def points_delta(self) -> int:
        """Change of available plus pending points, as listed on ledger entries."""
        return 0


def _lots(raw: list[JsonDict]) -> Lots:
    return tuple(LotPortion.from_data(portion) for portion in raw)


# --- program stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramCreated(Event):
    event_type: ClassVar[str] = "ProgramCreated"
    program_id: str
    settings: JsonDict


@dataclass(frozen=True)
class ProgramUpdated(Event):
    event_type: ClassVar[str] = "ProgramUpdated"
    settings: JsonDict


# --- account streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberEnrolled(Event):
    event_type: ClassVar[str] = "MemberEnrolled"
    member_id: str
    referral_code: str


@dataclass(frozen=True)
class PurchaseRecorded(Event):
    """A purchase and the points its rule computed, pending until `release_at` if set."""

    event_type: ClassVar[str] = "PurchaseRecorded"
    order_id: str
    amount_minor: int
    currency_code: str
    points: int
    release_at: str | None
    expires_on: str | None
    program_revision: int
    rate_points: int
    rate_per_major_units: int
    currency_exponent: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PendingPointsReleased(Event):
    """An order's pending points became available (`reason`: confirmed or window_passed)."""

    event_type: ClassVar[str] = "PendingPointsReleased"
    order_id: str
    points: int
    expires_on: str | None
    reason: str


@dataclass(frozen=True)
class PurchaseRefunded(Event):
    """A refund and the points it took back: from the order's pending points, then from
    available lots, and `negative_points` beyond the balance when the program allows it."""

    event_type: ClassVar[str] = "PurchaseRefunded"
    order_id: str
    amount_minor: int
    points_clawed_back: int
    from_pending: int
    from_available: Lots
    negative_points: int
    points_not_recovered: int

    @property
    def points_delta(self) -> int:
        return -self.points_clawed_back


@dataclass(frozen=True)
class PointsEarned(Event):
    event_type: ClassVar[str] = "PointsEarned"
    points: int
    reason: str
    expires_on: str | None
    program_revision: int

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PointsAdjusted(Event):
    """A manual change. Positive adds a lot expiring on `expires_on`; negative takes `taken`."""

    event_type: ClassVar[str] = "PointsAdjusted"
    points_delta_requested: int
    reason_code: str
    note: str
    actor: str
    expires_on: str | None
    taken: Lots

    @property
    def points_delta(self) -> int:
        return self.points_delta_requested


@dataclass(frozen=True)
class PointsRedeemed(Event):
    event_type: ClassVar[str] = "PointsRedeemed"
    points: int
    reference: str
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class PointsReserved(Event):
    event_type: ClassVar[str] = "PointsReserved"
    reservation_id: str
    points: int
    expires_at: str
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class ReservationCommitted(Event):
    """`points_redeemed` leave the hold for good; `restored` go back to their lots."""

    event_type: ClassVar[str] = "ReservationCommitted"
    reservation_id: str
    points_redeemed: int
    points_released: int
    restored: Lots

    @property
    def points_delta(self) -> int:
        return self.points_released


@dataclass(frozen=True)
class ReservationReleased(Event):
    """A hold given back whole (`reason`: canceled or expired)."""

    event_type: ClassVar[str] = "ReservationReleased"
    reservation_id: str
    points_released: int
    restored: Lots
    reason: str

    @property
    def points_delta(self) -> int:
        return self.points_released


@dataclass(frozen=True)
class PointsTransferredOut(Event):
    event_type: ClassVar[str] = "PointsTransferredOut"
    transfer_id: str
    destination_member_id: str
    points: int
    taken: Lots

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class PointsTransferredIn(Event):
    """Received points keep the expiry dates of the lots they came from."""

    event_type: ClassVar[str] = "PointsTransferredIn"
    transfer_id: str
    source_member_id: str
    points: int
    lots: Lots

    @property
    def points_delta(self) -> int:
        return self.points


@dataclass(frozen=True)
class PointsExpired(Event):
    event_type: ClassVar[str] = "PointsExpired"
    expires_on: str
    points: int

    @property
    def points_delta(self) -> int:
        return -self.points


@dataclass(frozen=True)
class HistoryImported(Event):
    """An event of the system the brand migrated from, kept as it was (points and time)."""

    event_type: ClassVar[str] = "HistoryImported"
    external_id: str
    kind: str
    points_delta_imported: int
    occurred_at: str
    expires_on: str | None
    taken: Lots
    negative_points: int

    @property
    def points_delta(self) -> int:
        return self.points_delta_imported


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        ProgramCreated,
        ProgramUpdated,
        MemberEnrolled,
        PurchaseRecorded,
        PendingPointsReleased,
        PurchaseRefunded,
        PointsEarned,
        PointsAdjusted,
        PointsRedeemed,
        PointsReserved,
        ReservationCommitted,
        ReservationReleased,
        PointsTransferredOut,
        PointsTransferredIn,
        PointsExpired,
        HistoryImported,
    )
}

_LOT_FIELDS = frozenset({"from_available", "taken", "restored", "lots"})


class UnknownEventType(Exception):
    """The log holds a type this code does not know: a newer writer, or damage."""


def upcast(event_type: str, schema_version: int, data: JsonDict) -> JsonDict:
    """Brings stored data of an older schema version up to the current one.

    Every type is at version 1 so far; when a type changes, add its step here and keep the
    old events untouched in the log.
    """
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    if schema_version > cls.schema_version:
        raise UnknownEventType(f"{event_type} v{schema_version}")
    return data


def event_from_data(event_type: str, schema_version: int, data: JsonDict) -> Event:
    data = upcast(event_type, schema_version, data)
    cls = EVENT_TYPES[event_type]
    names, lot_names = _shape(cls)
    if data.keys() != names:
        missing, unexpected = sorted(names - data.keys()), sorted(data.keys() - names)
        raise TypeError(f"{event_type} data: missing {missing}, unexpected {unexpected}")
    # The fields were just checked, and these classes have no __post_init__: the frozen
    # __init__ (a setattr per field) would only repeat the work, once per event replayed.
    event = object.__new__(cls)
    event.__dict__.update(data)
    for name in lot_names:
        event.__dict__[name] = _lots(data[name])
    return event


def _shape(cls: type[Event]) -> tuple[frozenset[str], tuple[str, ...]]:
    """An event class's field names, and which of them hold lots."""
    shape: tuple[frozenset[str], tuple[str, ...]] | None = cls.__dict__.get("_shape")
    if shape is None:
        names = frozenset(cls._field_names())
        shape = (names, tuple(sorted(names & _LOT_FIELDS)))
        cls._shape = shape  # type: ignore[attr-defined]
    return shape
