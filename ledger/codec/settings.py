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


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _encode(getattr(value, field.name)) for field in _fields_of(type(value))
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    assert value is None or isinstance(value, (str, int, bool)), value
    return value


def _decode(hint: Any, data: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin is tuple:
        (item_hint, _ellipsis) = get_args(hint)
        return tuple(_decode(item_hint, item, f"{where}[]") for item in data)
    if origin in (Union, types.UnionType):
        if data is None:
            return None
        (inner,) = (arg for arg in get_args(hint) if arg is not type(None))
        return _decode(inner, data, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if dataclasses.is_dataclass(hint):
        return _decode_object(hint, data, where)
    return data


def _decode_object(cls: Any, data: JsonDict, where: str) -> Any:
    fields = _fields_of(cls)
    unknown = data.keys() - {field.name for field in fields}
    if unknown:
        raise UnknownSetting(f"{where}: no setting named {sorted(unknown)}")
    values = {}
    for field in fields:
        if field.name in data:
            values[field.name] = _decode(field.hint, data[field.name], f"{where}.{field.name}")
        elif field.default is dataclasses.MISSING:
            raise UnknownSetting(f"{where}: {field.name} is missing")
        else:
            values[field.name] = field.default
    return cls(**values)


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
    return _decode(hint, data, where)
