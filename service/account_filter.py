"""ListAccounts' `filter`: a small subset of AIP-160, parsed into bounds on the directory.

    filter     := comparison { "AND" comparison }
    comparison := FIELD OPERATOR VALUE
    OPERATOR   := "=" | "<" | "<=" | ">" | ">="

Integer fields take an integer; time fields an RFC 3339 timestamp in double quotes; text
fields (`stage`, `tier`) take `=` and one value in double quotes, once per filter: `stage`
one of its fixed values, `tier` any name here (the service then checks it against the
program's tiers, `check_names`) or "" for members below the lowest tier. Each
comparison becomes an inclusive bound (`available > 5` is `available >= 6`), and the bounds
of one field are intersected, so the whole filter is a pair of bounds per field: parameters
of one fixed query, never SQL text. Timestamps finer than the directory's microseconds keep
their exact meaning (`> 12:00:00.0000005` is `>= 12:00:00.000001`).
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from ledger.domain.errors import InvalidArgument, Violations
from ledger.projections.member_directory import (
    INTEGER_FIELDS,
    NAME_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    Bounds,
)

MAX_FILTER_LENGTH = 1_000
MAX_COMPARISONS = 20
MAX_INTEGER = 2**63 - 1
REASON = "INVALID_FILTER"
FIELD = "filter"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<operator><=|>=|!=|=|<|>|:)
      | (?P<integer>[+-]?[0-9]+)
      | "(?P<string>[^"\\]*)"
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_OPERATORS = ("=", "<", "<=", ">", ">=")
_JOINERS = frozenset({"AND", "OR", "NOT", "and", "or", "not"})
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class AccountFilter:
    integers: dict[str, Bounds[int]] = field(default_factory=dict)
    times: dict[str, Bounds[datetime]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int
    """Offset in the filter, from 0, for the error."""


def _bad(description: str) -> InvalidArgument:
    return InvalidArgument.of(FIELD, description, reason=REASON)


def _tokens(text: str) -> list[_Token]:
    tokens = []
    offset = 0
    while offset < len(text) and not text[offset:].isspace():
        match = _TOKEN.match(text, offset)
        assert match is not None and match.lastgroup is not None
        kind = match.lastgroup
        if kind == "other":
            raise _bad(f"unexpected {match.group(kind)!r} at offset {match.start(kind)}")
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        offset = match.end()
    return tokens


def parse_filter(text: str, found: Violations | None = None) -> AccountFilter:
    """The bounds a filter sets; an empty filter sets none. Each bad comparison is one
    violation of `filter` (a text that does not split into tokens, one for the whole):
    added to `found`, or raised together without it."""
    violations = Violations() if found is None else found
    result = AccountFilter()
    try:
        if len(text) > MAX_FILTER_LENGTH:
            raise _bad(f"at most {MAX_FILTER_LENGTH} characters")
        comparisons = _comparisons(_tokens(text), violations)
    except InvalidArgument as error:
        violations.items.extend(error.violations)
        comparisons = []
    for comparison in comparisons:
        try:
            _comparison(comparison, result)
        except InvalidArgument as error:
            violations.items.extend(error.violations)  # and on to the next comparison
    if found is None:
        violations.raise_if_any()
    return result


def _comparisons(tokens: list[_Token], violations: Violations) -> list[list[_Token]]:
    """The tokens of each comparison, split at the joiners; a joiner other than AND, or one
    with no comparison beside it, is added to `violations`."""
    if not tokens:
        return []
    groups: list[list[_Token]] = [[]]
    joiners: list[_Token] = []
    for token in tokens:
        if token.kind == "word" and token.text in _JOINERS:
            joiners.append(token)
            groups.append([])
        else:
            groups[-1].append(token)
    for joiner in joiners:
        if joiner.text != "AND":
            violations.add(
                FIELD,
                f"only AND joins comparisons; found {joiner.text!r} at offset {joiner.at}",
                reason=REASON,
            )
    if len(groups) > MAX_COMPARISONS:
        violations.add(FIELD, f"at most {MAX_COMPARISONS} comparisons", reason=REASON)
        return []
    for index, group in enumerate(groups):
        if group or any(j.text != "AND" for j in joiners[max(index - 1, 0) : index + 1]):
            continue  # a comparison, or an empty place a wrong joiner explains already
        where = f"after AND at offset {joiners[index - 1].at}" if index else "before AND"
        violations.add(FIELD, f"expected a comparison {where}", reason=REASON)
    return [group for group in groups if group]


def _comparison(tokens: list[_Token], result: AccountFilter) -> None:
    if not tokens or tokens[0].kind != "word":
        where = f"at offset {tokens[0].at}" if tokens else "at the end"
        raise _bad(f"expected a field name {where}")
    name = tokens[0]
    if name.text not in (*INTEGER_FIELDS, *TIME_FIELDS, *TEXT_FIELDS, *NAME_FIELDS):
        known = ", ".join((*INTEGER_FIELDS, *TIME_FIELDS, *TEXT_FIELDS, *NAME_FIELDS))
        raise _bad(f"unknown field {name.text!r}; fields: {known}")
    if len(tokens) < 2 or tokens[1].kind != "operator":  # noqa: PLR2004
        raise _bad(f"expected an operator ({' '.join(_OPERATORS)}) after {name.text!r}")
    operator = tokens[1]
    if operator.text not in _OPERATORS:
        raise _bad(f"operator {operator.text!r} is not supported; use {' '.join(_OPERATORS)}")
    if len(tokens) < 3:  # noqa: PLR2004
        raise _bad(f"expected a value after {name.text} {operator.text}")
    value = tokens[2]
    if len(tokens) > 3:  # noqa: PLR2004
        raise _bad(f"expected AND at offset {tokens[3].at}, found {tokens[3].text!r}")
    if name.text in TEXT_FIELDS or name.text in NAME_FIELDS:
        _text(name.text, operator, value, result)
    elif name.text in INTEGER_FIELDS:
        number = _integer(name.text, value)
        lowest, highest = _integer_bounds(operator.text, number)
        current = result.integers.get(name.text, Bounds[int]())
        result.integers[name.text] = current.narrowed(lowest, highest)
    else:
        moment, finer = _timestamp(name.text, value)
        low, high = _time_bounds(operator.text, moment, finer)
        current_time = result.times.get(name.text, Bounds[datetime]())
        result.times[name.text] = current_time.narrowed(low, high)


def _text(name: str, operator: _Token, value: _Token, result: AccountFilter) -> None:
    if operator.text != "=":
        raise _bad(f"{name} takes only = (at offset {operator.at})")
    if name in NAME_FIELDS:
        if value.kind != "string":
            raise _bad(
                f"{name} takes a name in double quotes; found {value.text!r} at offset {value.at}"
            )
    elif value.kind != "string" or value.text not in TEXT_FIELDS[name]:
        raise _bad(
            f"{name} takes one of {', '.join(sorted(TEXT_FIELDS[name]))} in double quotes;"
            f" found {value.text!r} at offset {value.at}"
        )
    if name in result.texts:
        raise _bad(f"{name} may be compared once (at offset {operator.at})")
    result.texts[name] = value.text


def _integer(name: str, token: _Token) -> int:
    if token.kind != "integer":
        raise _bad(f"{name} takes an integer, found {token.text!r} at offset {token.at}")
    number = int(token.text)
    if not -MAX_INTEGER <= number <= MAX_INTEGER:
        raise _bad(f"{token.text} is out of range for {name}")
    return number


def _integer_bounds(operator: str, number: int) -> tuple[int | None, int | None]:
    return {
        "=": (number, number),
        ">": (number + 1, None),
        ">=": (number, None),
        "<": (None, number - 1),
        "<=": (None, number),
    }[operator]


def _timestamp(name: str, token: _Token) -> tuple[datetime, bool]:
    """The instant, to the microsecond below it, and whether the text was finer than that."""
    match = _RFC3339.fullmatch(token.text) if token.kind == "string" else None
    if match is None:
        raise _bad(
            f"{name} takes an RFC 3339 timestamp in double quotes, such as"
            f' "2026-01-31T09:30:00Z"; found {token.text!r} at offset {token.at}'
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    digits = (match.group(7) or "").ljust(9, "0")
    zone = match.group(8)
    try:
        offset = timedelta(0)
        if zone not in {"Z", "z"}:
            sign = 1 if zone[0] == "+" else -1
            offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment = datetime(
            year, month, day, hour, minute, second, int(digits[:6]), tzinfo=timezone(offset)
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad(f"{token.text!r} is not a valid instant") from None
    return moment, int(digits[6:]) > 0


def _time_bounds(
    operator: str, moment: datetime, finer: bool
) -> tuple[datetime | None, datetime | None]:
    """Inclusive bounds at microseconds with the comparison's exact meaning, where `moment`
    is the value rounded down and `finer` says whether anything was rounded off."""
    try:
        after = moment + _ONE_MICROSECOND  # the first stored instant after the value
        before = moment if finer else moment - _ONE_MICROSECOND  # the last one before it
    except OverflowError:
        raise _bad(f"{moment.isoformat()} is out of range") from None
    at_least = after if finer else moment
    return {
        "=": (at_least, moment),
        ">": (after, None),
        ">=": (at_least, None),
        "<": (None, before),
        "<=": (None, moment),
    }[operator]


def check_names(texts: dict[str, str], names: dict[str, tuple[str, ...]]) -> None:
    """Refuses a name field's value that is not one of the program's names for it (or "")."""
    for name, known in names.items():
        value = texts.get(name)
        if value is not None and value and value not in known:
            listed = ", ".join(repr(item) for item in ("", *known))
            raise _bad(f"{name} {value!r} is not one of the program's: {listed}")
