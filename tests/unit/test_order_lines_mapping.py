"""A request's order lines in the ledger's terms (service/purchase_mapping.py): amounts in
minor units, each unreadable part named by its field."""

from ledger.domain.errors import Violations
from ledger.domain.purchase_rules import LineKind, OrderLine
from loyalty.v1 import ledger_pb2 as pb
from service.purchase_mapping import order_lines


def line(
    units: int,
    nanos: int = 0,
    currency: str = "USD",
    kind: pb.OrderLineKind.ValueType = pb.ORDER_LINE_KIND_GOODS,
) -> pb.OrderLine:
    return pb.OrderLine(
        line_id="1",
        sku="sku-1",
        quantity=1,
        amount=pb.Money(currency_code=currency, units=units, nanos=nanos),
        kind=kind,
    )


def test_readable_lines_are_in_minor_units_of_the_orders_currency() -> None:
    found = Violations()

    parsed = order_lines(
        [line(12, 340_000_000), line(0, 50_000_000, kind=pb.ORDER_LINE_KIND_SHIPPING)], "USD", found
    )

    assert not found.items
    assert parsed == (
        OrderLine("1", "sku-1", "", 1, 1234, LineKind.GOODS),
        OrderLine("1", "sku-1", "", 1, 5, LineKind.SHIPPING),
    )
    assert order_lines([line(500, currency="JPY")], "JPY", found)[0].amount_minor == 500
    assert order_lines([line(1, 5_000_000, currency="KWD")], "KWD", found)[0].amount_minor == 1005
    assert not found.items


def test_each_unreadable_part_of_a_line_is_named_and_reads_as_zero() -> None:
    found = Violations()

    parsed = order_lines(
        [
            line(1),
            line(1, 1),  # finer than a cent
            line(1, -5_000_000),  # nanos of the other sign
            line(1, currency="EUR"),
            line(1, kind=pb.ORDER_LINE_KIND_UNSPECIFIED),
        ],
        "USD",
        found,
    )

    assert [(item.field, item.reason) for item in found.items] == [
        ("lines[1].amount.nanos", "TOO_MANY_DECIMALS"),
        ("lines[2].amount.nanos", "MONEY_NANOS_INVALID"),
        ("lines[3].amount.currency_code", "ORDER_LINE_INVALID"),
        ("lines[4].kind", "ORDER_LINE_INVALID"),
    ]
    assert [item.amount_minor for item in parsed] == [100, 0, 0, 0, 100]
