"""Purchases with order lines through the real gRPC channel: the per-rule answer a storefront
shows, what the log records, retries, and settings and lines refused naming each field."""

import json

import grpc
import psycopg
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, create_program, enroll, request_id, unique
from tests.e2e.errors import failure

RULES = {
    "multipliers": [
        pb.EarnMultiplier(rule_id="double_runner", percent=200, sku="runner"),
        pb.EarnMultiplier(rule_id="shoes_x1_5", percent=150, category="shoes"),
    ],
    "exclusions": [
        pb.EarnExclusion(rule_id="no_shipping", line_kind=pb.ORDER_LINE_KIND_SHIPPING),
        pb.EarnExclusion(rule_id="no_tax", line_kind=pb.ORDER_LINE_KIND_TAX),
    ],
    "minimum_order_amounts": [pb.Money(currency_code="USD", units=10)],
    "points_rounding": pb.POINTS_ROUNDING_NEAREST,
}


def usd(units: int, nanos: int = 0) -> pb.Money:
    return pb.Money(currency_code="USD", units=units, nanos=nanos)


def order_line(
    line_id: str,
    amount: pb.Money,
    kind: "pb.OrderLineKind.ValueType" = pb.ORDER_LINE_KIND_GOODS,
    **fields: str,
) -> pb.OrderLine:
    return pb.OrderLine(line_id=line_id, quantity=1, amount=amount, kind=kind, **fields)


LINES = [
    order_line("1", usd(40), sku="runner", category="shoes"),  # 40 + 40
    order_line("2", usd(20, 50_000_000), sku="boot", category="shoes"),  # 20.05 + 10.025
    order_line("3", usd(5), sku="socks", category="apparel"),  # 5
    order_line("4", usd(7), pb.ORDER_LINE_KIND_SHIPPING),
    order_line("5", usd(3), pb.ORDER_LINE_KIND_TAX),
    order_line("6", usd(25), pb.ORDER_LINE_KIND_GIFT_CARD, sku="gift-25"),
]
TOTAL = usd(100, 50_000_000)


async def count_events(database_url: str, program_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM ledger.events WHERE program_id = %s", (program_id,)
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


def applied(response: pb.RecordPurchaseResponse) -> list[tuple[str, int, int, list[int]]]:
    return [
        (rule.rule_id, rule.kind, rule.points, list(rule.line_indexes))
        for rule in response.applied_rules
    ]


async def test_a_purchase_with_lines_answers_the_points_of_each_rule(api: Api) -> None:
    program_id = await create_program(api.stub, **RULES)
    account = await enroll(api.stub, program_id)
    request = pb.RecordPurchaseRequest(
        request_id=request_id(), account=account, order_id="o-1", amount=TOTAL, lines=LINES
    )

    response = await api.stub.RecordPurchase(request)

    # 65.05 base + 40 + 10.025 = 115.075 points, to the nearest: 115.
    assert response.points == 115
    assert response.program_revision == 1
    assert applied(response) == [
        ("earn_rate:USD", pb.AppliedRule.KIND_EARN_RATE, 65, [0, 1, 2]),
        ("double_runner", pb.AppliedRule.KIND_MULTIPLIER, 40, [0]),
        ("shoes_x1_5", pb.AppliedRule.KIND_MULTIPLIER, 10, [1]),
        ("no_shipping", pb.AppliedRule.KIND_EXCLUSION, 0, [3]),
        ("no_tax", pb.AppliedRule.KIND_EXCLUSION, 0, [4]),
        ("exclusion:gift_cards", pb.AppliedRule.KIND_EXCLUSION, 0, [5]),
    ]
    assert response.account.balances.available == 115

    retry = await api.stub.RecordPurchase(request)
    assert retry == response

    entries = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=["PurchaseRecorded"])
    )
    [entry] = entries.entries
    assert entry.schema_version == 2
    data = json.loads(entry.data_json)
    assert data["program_revision"] == 1
    assert [(rule["rule_id"], rule["points"]) for rule in data["rules"]] == [
        (rule_id, points) for rule_id, _, points, _ in applied(response)
    ]
    assert [line["line_id"] for line in data["lines"]] == ["1", "2", "3", "4", "5", "6"]


async def test_a_purchase_below_the_minimum_answers_why_it_earned_nothing(api: Api) -> None:
    program_id = await create_program(api.stub, **RULES)
    account = await enroll(api.stub, program_id)

    response = await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id="o-1",
            amount=usd(16, 990_000_000),
            lines=[order_line("1", usd(9, 990_000_000)), LINES[3]],
        )
    )

    assert response.points == 0
    assert applied(response) == [
        ("minimum_order:USD", pb.AppliedRule.KIND_MINIMUM_ORDER, 0, [0]),
        ("no_shipping", pb.AppliedRule.KIND_EXCLUSION, 0, [1]),
    ]


async def test_a_purchase_without_lines_earns_as_before_under_the_earn_rate(api: Api) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)

    response = await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(), account=account, order_id="o-1", amount=usd(19, 990_000_000)
        )
    )

    assert response.points == 19
    assert applied(response) == [("earn_rate:USD", pb.AppliedRule.KIND_EARN_RATE, 19, [])]


async def test_a_programs_earning_rules_are_read_back(api: Api) -> None:
    program_id = await create_program(api.stub, **RULES)

    found = await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))

    assert list(found.program.multipliers) == RULES["multipliers"]
    assert list(found.program.exclusions) == RULES["exclusions"]
    assert list(found.program.minimum_order_amounts) == RULES["minimum_order_amounts"]
    assert found.program.points_rounding == pb.POINTS_ROUNDING_NEAREST
    assert found.program.earn_on_gift_cards is False


async def test_senseless_earning_settings_are_refused_naming_each_and_nothing_is_appended(
    api: Api, database_url: str
) -> None:
    program_id = unique("prog")
    program = pb.Program(
        earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
        multipliers=[
            pb.EarnMultiplier(rule_id="x", percent=0, sku="a"),
            pb.EarnMultiplier(rule_id="x", percent=-200, category="c"),
        ],
        exclusions=[pb.EarnExclusion(rule_id="nothing")],
        minimum_order_amounts=[pb.Money(currency_code="XYZ", units=5)],
        points_rounding=9,  # type: ignore[arg-type]  # a number no enum value has
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id=program_id, program=program)
        )

    assert failure(refused.value).code is grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(failure(refused.value).fields) == sorted(
        [
            "program.minimum_order_amounts[0].currency_code",
            "program.points_rounding",
            "program.multipliers[0].percent",
            "program.multipliers[1].rule_id",
            "program.multipliers[1].percent",
            "program.exclusions[0]",
        ]
    )
    assert await count_events(database_url, program_id) == 0


async def test_bad_lines_are_refused_naming_each_line_and_nothing_is_appended(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub, **RULES)
    account = await enroll(api.stub, program_id)
    before = await count_events(database_url, program_id)
    lines = [
        order_line("1", pb.Money(currency_code="EUR", units=5)),
        order_line("2", usd(5), kind=pb.ORDER_LINE_KIND_UNSPECIFIED),
        pb.OrderLine(line_id="3", quantity=0, amount=usd(1), kind=pb.ORDER_LINE_KIND_GOODS),
    ]

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(),
                account=account,
                order_id="o-1",
                amount=usd(11),
                lines=lines,
            )
        )

    assert failure(refused.value) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "ORDER_LINE_INVALID",
        ["lines[0].amount.currency_code", "lines[1].kind", "lines[2].quantity"],
    )
    with pytest.raises(grpc.aio.AioRpcError) as mismatched:
        await api.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(),
                account=account,
                order_id="o-1",
                amount=usd(12),
                lines=LINES[:2],
            )
        )
    assert failure(mismatched.value).fields == ["lines"]
    assert await count_events(database_url, program_id) == before
