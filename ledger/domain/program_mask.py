"""Which settings a program update changes: update_mask paths (AIP-134) over ProgramSettings.

Paths are settings field names, which are the proto `Program` field names, so a setting added
to ProgramSettings becomes maskable (and shows in a revision's changed paths) with no change
here. A path may reach into a nested settings dataclass ("a.b"), never into a tuple (a
repeated field is replaced whole: its items have no stable names to address).
"""

import dataclasses
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from ledger.domain import limits
from ledger.domain.errors import Violations
from ledger.domain.settings import ProgramSettings

_Settings = TypeVar("_Settings")

REPLACE_ALL = "*"
OUTPUT_ONLY = frozenset({"name", "revision", "create_time", "update_time"})
"""Fields of a program that are not settings: the ledger sets them, no update can."""


def check_mask(
    paths: Sequence[str],
    violations: Violations,
    field: str = "update_mask",
    settings_type: type[Any] = ProgramSettings,
) -> None:
    if len(paths) > limits.MAX_UPDATE_MASK_PATHS:
        violations.add(f"{field}.paths", f"at most {limits.MAX_UPDATE_MASK_PATHS} paths")
        return
    for index, path in enumerate(paths):
        problem = _problem(path, len(paths), settings_type)
        if problem is not None:
            violations.add(f"{field}.paths[{index}]", problem)


def replaces_all(paths: Sequence[str]) -> bool:
    """An empty mask replaces every setting: what UpdateProgram did before masks existed."""
    return not paths or REPLACE_ALL in paths


def apply_mask(current: _Settings, requested: _Settings, paths: Sequence[str]) -> _Settings:
    """`current` with the fields named by `paths` taken from `requested` (paths checked)."""
    if replaces_all(paths):
        return requested
    result = current
    for path in paths:
        result = _copied(result, requested, path.split("."))
    return result


def changed_paths(before: Any, after: Any, prefix: str = "") -> tuple[str, ...]:
    """The mask paths whose values differ between two settings, in field order; a nested
    settings dataclass is compared field by field, anything else whole."""
    changed: list[str] = []
    for item in dataclasses.fields(after):
        old, new = getattr(before, item.name), getattr(after, item.name)
        if old == new:
            continue
        if _is_settings(old) and type(old) is type(new):
            changed.extend(changed_paths(old, new, f"{prefix}{item.name}."))
        else:
            changed.append(f"{prefix}{item.name}")
    return tuple(changed)


def _is_settings(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _copied(target: Any, source: Any, segments: list[str]) -> Any:
    name = segments[0]
    if len(segments) == 1:
        value = getattr(source, name)
    else:
        value = _copied(getattr(target, name), getattr(source, name), segments[1:])
    return dataclasses.replace(target, **{name: value})


def _problem(path: str, path_count: int, settings_type: type[Any]) -> str | None:
    if path == REPLACE_ALL:
        return None if path_count == 1 else f"{REPLACE_ALL} must be the only path"
    if len(path) > limits.MAX_UPDATE_MASK_PATH_LENGTH:
        return f"at most {limits.MAX_UPDATE_MASK_PATH_LENGTH} characters"
    if path in OUTPUT_ONLY:
        return "is output only: the ledger sets it"
    owner = settings_type
    segments = path.split(".")
    for depth, segment in enumerate(segments):
        field_type = _field_types(owner).get(segment)
        if field_type is None:
            where = "Program" if depth == 0 else ".".join(segments[:depth])
            return f"{segment!r} is not a field of {where}"
        if depth == len(segments) - 1:
            return None
        if typing.get_origin(field_type) is tuple:
            return f"{segment} is repeated: name the whole field"
        if not (isinstance(field_type, type) and dataclasses.is_dataclass(field_type)):
            # Optional messages too: a field inside an unset message has nowhere to go.
            return f"{segment} has no fields to name: name the whole field"
        owner = field_type
    raise AssertionError("a path has at least one segment")


def _field_types(owner: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(owner)
    return {item.name: hints[item.name] for item in dataclasses.fields(owner)}
