"""The settings codec's encoders, made per class from the declared field types
(ledger/codec/settings.py), write what the plain recursive walk over the values writes, for
any settings, order lines, applied rules and purchase results."""

import dataclasses
from enum import Enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec.settings import plain_data, settings_data
from ledger.domain.purchase_rules import OrderLine, RuleApplication
from ledger.domain.results import PurchaseResult
from ledger.domain.settings import ProgramSettings


def _jsonb_key(name: str) -> tuple[int, bytes]:
    return (len(name.encode()), name.encode())


def walked(value: Any) -> Any:
    """The plain version: every value by its own type, keys in jsonb's order."""
    if type(value) in (str, int, bool, type(None)):
        return value
    if type(value) is tuple:
        return [walked(item) for item in value]
    if dataclasses.is_dataclass(value):
        names = sorted((field.name for field in dataclasses.fields(value)), key=_jsonb_key)
        return {name: walked(getattr(value, name)) for name in names}
    if isinstance(value, Enum):
        return value.value
    raise AssertionError(value)


def _same(data: Any, expected: Any) -> bool:
    """Equal, with the same types and key order at every level."""
    if isinstance(expected, dict):
        return (
            isinstance(data, dict)
            and list(data) == list(expected)
            and all(_same(data[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(data, list)
            and len(data) == len(expected)
            and all(map(_same, data, expected))
        )
    return type(data) is type(expected) and data == expected


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.from_type(OrderLine), max_size=8).map(tuple),
    rules=st.lists(st.from_type(RuleApplication), max_size=8).map(tuple),
    result=st.from_type(PurchaseResult),
)
def test_lines_rules_and_results_encode_as_the_plain_walk_does(
    lines: tuple[OrderLine, ...], rules: tuple[RuleApplication, ...], result: PurchaseResult
) -> None:
    assert _same(plain_data(lines), walked(lines))
    assert _same(plain_data(rules), walked(rules))
    assert _same(plain_data(result), walked(result))


@settings(max_examples=100, deadline=None)
@given(program=st.from_type(ProgramSettings))
def test_settings_encode_as_the_plain_walk_does(program: ProgramSettings) -> None:
    assert _same(settings_data(program), walked(program))
