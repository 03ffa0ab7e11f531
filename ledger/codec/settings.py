"""Program settings <-> the JSON stored in program events, snapshots and stored answers.

Derived from the settings dataclasses themselves, so a setting added to the domain is stored
without a codec change of its own: frozen dataclasses become objects (keys in jsonb's order),
enums their values, tuples lists. A setting added later is missing from the data written
before it; reading that data gives the setting's default, which must therefore mean what the
program did before the setting existed. A key this code does not know is refused, never
dropped: it was written by a newer release (or is damage), and reading on would lose a rule.
"""

import dataclasses
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
_NAMES: dict[type, tuple[str, ...] | None] = {}
"""Field names in jsonb's order of each class met (None: not a dataclass). Looked up by the
exact type: this runs for every rule and order line of every purchase written and answered,
and dataclasses.is_dataclass and a walk over the fields cost a third of a purchase's time."""


_UNSEEN = ("",)


def _names_of(cls: type) -> tuple[str, ...] | None:
    names = _NAMES.get(cls, _UNSEEN)
    if names is _UNSEEN:
        names = (
            tuple(field.name for field in _fields_of(cls))
            if dataclasses.is_dataclass(cls)
            else None
        )
        _NAMES[cls] = names
    return names


def _encode(value: Any) -> Any:
    cls = type(value)
    if cls in _PLAIN:
        return value
    if cls is tuple:
        return [_encode(item) for item in value]
    names = _names_of(cls)
    if names is not None:
        fields = value.__dict__
        return {name: _encode(fields[name]) for name in names}
    if isinstance(value, Enum):
        return value.value
    raise AssertionError(f"not a settings value: {value!r}")


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
