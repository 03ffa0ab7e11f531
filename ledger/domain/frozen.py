"""Building and copying frozen dataclasses on the paths run for every event.

A frozen dataclass's __init__ sets each field through object.__setattr__: about 3.5 µs for a
record of a dozen fields, several times per event written and once per event replayed.
These fill the new instance's __dict__ instead. Only for classes without __post_init__ or
default_factory fields, with every field without a default given (a unit test holds each
class used here to its own __init__).
"""

from typing import Any, TypeVar

_T = TypeVar("_T")


def build(cls: type[_T], /, **values: Any) -> _T:
    """cls(**values), without the per-field setattr."""
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def replace(instance: _T, /, **changes: Any) -> _T:
    """dataclasses.replace(instance, **changes), without its per-call field introspection."""
    copy = object.__new__(type(instance))
    copy.__dict__.update(instance.__dict__)
    copy.__dict__.update(changes)
    return copy
