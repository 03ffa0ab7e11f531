"""ISO 4217 currency data, from the maintained `iso4217` package rather than a table of ours.

Outside ledger.domain on purpose: the domain is standard-library only, so callers look the
exponent up here and hand it to the domain with the amount.
"""

from functools import cache

import iso4217

from ledger.domain.errors import Violations, refuse

NANOS_PER_UNIT = 1_000_000_000


@cache
def minor_unit_exponent(currency_code: str) -> int | None:
    """Decimals of the currency's minor unit (JPY 0, USD 2, KWD 3); None if unknown or if
    the code has no minor unit (gold, SDRs, testing codes), which cannot price a purchase."""
    try:
        exponent = iso4217.Currency(currency_code).exponent
    except ValueError:
        return None
    return exponent if isinstance(exponent, int) else None


def to_minor_units(
    units: int,
    nanos: int,
    currency_code: str,
    field_name: str,
    found: Violations | None = None,
) -> tuple[int, int]:
    """(amount in minor units, exponent) of a google.type.Money-shaped amount.

    Refuses unknown codes and amounts finer than the currency's minor unit (0.5 JPY,
    0.001 USD) instead of rounding them: money is never silently changed. A refusal is
    raised, or added to `found` with (0, 0) returned for the caller to report with the
    request's other bad fields.
    """
    exponent = minor_unit_exponent(currency_code)
    if exponent is None:
        refuse(
            found,
            f"{field_name}.currency_code",
            f"{currency_code!r} is not an ISO 4217 currency with minor units",
            reason="UNKNOWN_CURRENCY",
        )
        return 0, 0
    if not -NANOS_PER_UNIT < nanos < NANOS_PER_UNIT or (units > 0 > nanos) or (units < 0 < nanos):
        refuse(
            found,
            f"{field_name}.nanos",
            "must be within ±999,999,999 and have the sign of units",
            reason="MONEY_NANOS_INVALID",
        )
        return 0, 0
    nanos_per_minor = NANOS_PER_UNIT // 10**exponent
    if nanos % nanos_per_minor:
        refuse(
            found,
            f"{field_name}.nanos",
            f"{currency_code} has {exponent} decimals; the amount has more",
            reason="TOO_MANY_DECIMALS",
        )
        return 0, 0
    return units * 10**exponent + nanos // nanos_per_minor, exponent
