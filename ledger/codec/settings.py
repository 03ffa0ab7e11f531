"""Program settings <-> the JSON stored in program events, snapshots and stored answers.

Derived from the settings dataclasses themselves, so a setting added to the domain is stored
without a codec change of its own: frozen dataclasses become objects (keys in jsonb's order),
enums their values, tuples lists. A setting added later is missing from the data written
before it; reading that data gives the setting's default, which must therefore mean what the
program did before the setting existed. A key this code does not know is refused, never
dropped: it was written by a newer release (or is damage), and reading on would lose a rule.
"""

import dataclasses
import operator
import types
from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from ledger.domain.settings import ProgramSettings

JsonDict = dict[str, Any]


class UnknownSetting(TypeError):
    """Stored settings hold a key no settings class declares."""


def _jsonb_key(name: str) -> tuple[int, bytes]:
    encoded = name.encode()
    return (len(encoded), encoded)


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    hint: Any
    default: Any
    """dataclasses.MISSING when the field has none (then every stored shape holds it)."""


@cache
def _fields_of(cls: type) -> tuple[_Field, ...]:
    """The fields of a settings class in jsonb's key order, with their resolved types."""
    hints = get_type_hints(cls)
    found = []
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        found.append(_Field(item.name, hints[item.name], default))
    return tuple(sorted(found, key=lambda field: _jsonb_key(field.name)))


_PLAIN = frozenset({str, int, bool, type(None)})

_Encoder = Callable[[Any], Any]
"""A value -> its JSON data."""

_ENCODERS: dict[type, _Encoder] = {}
"""The encoder of each class met, looked up by the exact type: this runs for every rule and
order line of every purchase written and answered, and dataclasses.is_dataclass, a walk over
the fields and a call per field cost a third of a purchase's time."""


def _encode(value: Any) -> Any:
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _ENCODERS[type(value)] = _encoder_of_class(type(value))
    return encoder(value)


def _as_is_data(value: Any) -> Any:
    return value


def _tuple_data(value: tuple[Any, ...]) -> list[Any]:
    return [_encode(item) for item in value]


def _encoder_of_class(cls: type) -> _Encoder:
    if cls in _PLAIN:
        return _as_is_data
    if cls is tuple:
        return _tuple_data
    if dataclasses.is_dataclass(cls):
        return _object_encoder(cls)
    if issubclass(cls, Enum):
        return _enum_data
    raise AssertionError(f"not a settings value of type {cls.__name__}")


_enum_data: _Encoder = operator.attrgetter("_value_")
"""A member's value: the attribute Enum.value reads (through a property, a Python call each
time) read directly."""


@cache
def _field_encoder(hint: Any) -> _Encoder | None:
    """The encoder of a field declared `hint`, None where the value is its data (str, int,
    bool fields): a dataclass's fields are encoded by their declared types, so an order line's
    five plain fields cost no call each. Anything else goes by the value's own type."""
    if hint in _PLAIN:
        return None
    if get_origin(hint) is tuple and all(arg in _PLAIN or arg is ... for arg in get_args(hint)):
        return list
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum_data
    return _encode


def _object_encoder(cls: type) -> _Encoder:
    plan = tuple((field.name, _field_encoder(field.hint)) for field in _fields_of(cls))

    def encode(value: Any) -> Any:
        fields = value.__dict__
        return {
            name: fields[name] if encoder is None else encoder(fields[name])
            for name, encoder in plan
        }

    return encode


_Decoder = Callable[[Any, str], Any]
"""(stored data, where it sits, for errors) -> the value."""


def _as_is(data: Any, _where: str) -> Any:
    return data


@cache
def _decoder(hint: Any) -> _Decoder:
    """The decoder of values of type `hint`, made once per type: replay reads the rules and
    lines of every purchase through it."""
    origin = get_origin(hint)
    if origin is tuple:
        (item_hint, _ellipsis) = get_args(hint)
        item = _decoder(item_hint)
        if item is _as_is:
            return lambda data, _where: tuple(data)
        return lambda data, where: tuple(item(value, f"{where}[]") for value in data)
    if origin in (Union, types.UnionType):
        (inner_hint,) = (arg for arg in get_args(hint) if arg is not type(None))
        inner = _decoder(inner_hint)
        return lambda data, where: None if data is None else inner(data, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        enum = hint
        return lambda data, _where: enum(data)
    if dataclasses.is_dataclass(hint):
        return _object_decoder(hint)
    return _as_is


def _object_decoder(cls: Any) -> _Decoder:
    plan = tuple((field.name, _decoder(field.hint), field.default) for field in _fields_of(cls))
    known = frozenset(name for name, _, _ in plan)

    def decode(data: JsonDict, where: str) -> Any:
        if not data.keys() <= known:
            raise UnknownSetting(f"{where}: no setting named {sorted(data.keys() - known)}")
        values = {}
        for name, decoder, default in plan:
            if name in data:
                value = data[name]
                values[name] = value if decoder is _as_is else decoder(value, f"{where}.{name}")
            elif default is dataclasses.MISSING:
                raise UnknownSetting(f"{where}: {name} is missing")
            else:
                values[name] = default
        return cls(**values)

    return decode


def _decode_object(cls: Any, data: JsonDict, where: str) -> Any:
    return _decoder(cls)(data, where)


def settings_data(settings: ProgramSettings) -> JsonDict:
    """The stored form of `settings`, every key in jsonb's order."""
    data: JsonDict = _encode(settings)
    return data


def settings_of(data: JsonDict) -> ProgramSettings:
    """The settings stored as `data`, by this release or any before it."""
    settings: ProgramSettings = _decode_object(ProgramSettings, data, "settings")
    return settings


def plain_data(value: Any) -> Any:
    """Any value the settings are made of (nested frozen dataclasses, enums, tuples) as JSON
    data, keys in jsonb's order: the codec of the rule values events and answers hold too."""
    return _encode(value)


def value_of(hint: Any, data: Any, where: str) -> Any:
    """The value of type `hint` stored as `data` by `plain_data`; missing keys take their
    defaults."""
    return _decoder(hint)(data, where)
