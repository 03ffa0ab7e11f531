"""Building and copying frozen dataclasses on the paths run for every event.

A frozen dataclass's __init__ sets each field through object.__setattr__, and
dataclasses.replace adds a walk over the fields on top: 4.5-5.3 us per copy of a balance or
an account state, against about 1 us here. The fold runs several per event, and the audit
replays the whole log through it (docs/PERFORMANCE.md). These fill the new instance's __dict__
instead, after checking the field names, so a misspelled name raises TypeError just as the
constructor and dataclasses.replace do. Only for classes without __post_init__, which neither
runs (tests/unit/test_frozen.py holds every class copied here to dataclasses.replace, and
checks that no event class has one).
"""

import dataclasses
from typing import Any, TypeVar

_T = TypeVar("_T")

_FIELDS: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    names = _FIELDS.get(cls)
    if names is None:
        names = frozenset(field.name for field in dataclasses.fields(cls))
        _FIELDS[cls] = names
    return names


def build(cls: type[_T], /, **values: Any) -> _T:
    """cls(**values) with every field given, without the per-field setattr."""
    if values.keys() != _field_names(cls):
        missing = sorted(_field_names(cls) - values.keys())
        unexpected = sorted(values.keys() - _field_names(cls))
        raise TypeError(f"{cls.__name__}: missing {missing}, unexpected {unexpected}")
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def replace(instance: _T, /, **changes: Any) -> _T:
    """dataclasses.replace(instance, **changes), without its per-call field walk."""
    cls = type(instance)
    if not changes.keys() <= _field_names(cls):
        unexpected = sorted(changes.keys() - _field_names(cls))
        raise TypeError(f"{cls.__name__} has no field {unexpected}")
    copy = object.__new__(cls)
    copy.__dict__.update(instance.__dict__)
    copy.__dict__.update(changes)
    return copy
