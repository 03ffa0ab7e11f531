"""Events <-> the JSON data stored in ledger.events.data.

Data is JSON-native (int, str, bool, None, lists and objects of those), with its keys in
jsonb's order (byte length, then bytewise) at every level, the order the hash chain's
canonical text needs: writers render it without sorting. A stored event is read back through
`decode`, which brings older schema versions up to the current one (`upcast`) so old events
stay readable forever; the log itself is never rewritten.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, get_type_hints

from ledger.codec.chain import jsonb_ordered
from ledger.codec.expiry import expiry_of
from ledger.codec.settings import plain_data, settings_data, settings_of, value_of
from ledger.domain.events import EVENT_TYPES, Event, LotPortion, Lots
from ledger.domain.frozen import build
from ledger.domain.purchase_rules import RuleApplication, RuleKind, earn_rate_rule_id
from ledger.domain.settings import ProgramSettings

JsonDict = dict[str, Any]

_LOT_FIELDS = frozenset({"from_available", "taken", "restored", "lots"})
_SETTINGS_FIELDS = frozenset({"settings"})
_RULE_FIELDS = frozenset({"rules", "lines", "ladder", "perks"})
"""Tuples of rule values (purchase_rules.py) and of a tier's ladder and perks, stored by the
settings' generic codec."""
_EXPIRY_FIELDS = frozenset({"expires_on"})
"""A lot's expiry, written as a date by the first release (ledger/codec/expiry.py)."""


class UnknownEventType(Exception):
    """The log holds a type (or a schema version) this code does not know: a newer writer,
    or damage."""


def _jsonb_key(name: str) -> tuple[int, bytes]:
    encoded = name.encode()
    return (len(encoded), encoded)


@dataclasses.dataclass(frozen=True)
class _Shape:
    names: tuple[str, ...]
    """Field names in jsonb's key order."""
    name_set: frozenset[str]
    lot_names: tuple[str, ...]
    settings_names: tuple[str, ...]
    rule_hints: tuple[tuple[str, Any], ...]
    """(name, type) of the fields holding rule values."""
    expiry_names: tuple[str, ...]


def _shape_of(cls: type[Event]) -> _Shape:
    names = tuple(sorted((item.name for item in dataclasses.fields(cls)), key=_jsonb_key))
    name_set = frozenset(names)
    hints = get_type_hints(cls)
    return _Shape(
        names,
        name_set,
        tuple(sorted(name_set & _LOT_FIELDS)),
        tuple(sorted(name_set & _SETTINGS_FIELDS)),
        tuple((name, hints[name]) for name in sorted(name_set & _RULE_FIELDS)),
        tuple(sorted(name_set & _EXPIRY_FIELDS)),
    )


_SHAPES: dict[type[Event], _Shape] = {cls: _shape_of(cls) for cls in EVENT_TYPES.values()}


# --- lots -----------------------------------------------------------------------------------------


def lots_data(lots: Lots) -> list[JsonDict]:
    # Key order is jsonb's (shorter keys first).
    return [{"points": portion.points, "expires_on": portion.expires_on} for portion in lots]


def lots_of(data: list[JsonDict]) -> Lots:
    return tuple(
        LotPortion(expiry_of(portion["expires_on"]), portion["points"]) for portion in data
    )


# --- events ---------------------------------------------------------------------------------


def encode(event: Event) -> JsonDict:
    """The stored data of `event`, keys in jsonb order."""
    shape = _SHAPES[type(event)]
    values = event.__dict__
    data: JsonDict = {}
    for name in shape.names:
        value = values[name]
        if isinstance(value, tuple):
            value = plain_data(value) if name in _RULE_FIELDS else lots_data(value)
        elif isinstance(value, ProgramSettings):
            value = settings_data(value)
        data[name] = value
    return data


def _enrolled_v1(data: JsonDict) -> JsonDict:
    # The member id moved out of the log (pseudonymous keys): the stream id names the member.
    return {"referral_code": data["referral_code"]}


def _renamed(old: str, new: str) -> Callable[[JsonDict], JsonDict]:
    def step(data: JsonDict) -> JsonDict:
        renamed: JsonDict = jsonb_ordered(
            {(new if name == old else name): value for name, value in data.items()}
        )
        return renamed

    return step


def _purchase_v1(data: JsonDict) -> JsonDict:
    # Before order lines one rule computed a purchase's points: the earn rate, stored with it.
    rule = RuleApplication(
        earn_rate_rule_id(data["currency_code"]), RuleKind.EARN_RATE, data["points"]
    )
    upcast: JsonDict = jsonb_ordered({**data, "rules": [plain_data(rule)], "lines": []})
    return upcast


_UPCASTS: dict[tuple[str, int], Callable[[JsonDict], JsonDict]] = {
    ("MemberEnrolled", 1): _enrolled_v1,
    ("PointsTransferredOut", 1): _renamed("destination_member_id", "destination_member_key"),
    ("PointsTransferredIn", 1): _renamed("source_member_id", "source_member_key"),
    ("PurchaseRecorded", 1): _purchase_v1,
}
"""(type, version) -> the step from that version to the next."""


def upcast(event_type: str, schema_version: int, data: JsonDict) -> JsonDict:
    """Brings stored data of an older schema version up to the current one, one step at a
    time; the old events stay untouched in the log (their bytes are what their hashes hold).
    """
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise UnknownEventType(event_type)
    if schema_version > cls.schema_version:
        raise UnknownEventType(f"{event_type} v{schema_version}")
    while schema_version < cls.schema_version:
        data = _UPCASTS[(event_type, schema_version)](data)
        schema_version += 1
    return data


def decode(event_type: str, schema_version: int, data: JsonDict) -> Event:
    """The event stored as `data`; TypeError if its fields are not the type's."""
    data = upcast(event_type, schema_version, data)
    cls = EVENT_TYPES[event_type]
    shape = _SHAPES[cls]
    if data.keys() != shape.name_set:
        missing, unexpected = (
            sorted(shape.name_set - data.keys()),
            sorted(data.keys() - shape.names),
        )
        raise TypeError(f"{event_type} data: missing {missing}, unexpected {unexpected}")
    if shape.lot_names or shape.settings_names or shape.rule_hints or shape.expiry_names:
        data = dict(data)
        for name in shape.expiry_names:
            data[name] = expiry_of(data[name])
        for name in shape.lot_names:
            data[name] = lots_of(data[name])
        for name in shape.settings_names:
            data[name] = settings_of(data[name])
        for name, hint in shape.rule_hints:
            data[name] = value_of(hint, data[name], f"{event_type}.{name}")
    return build(cls, **data)
