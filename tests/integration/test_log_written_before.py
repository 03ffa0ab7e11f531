"""A log written by the ledger of commit 17e3e96 (tests/fixtures/log_v1) still verifies,
replays, loads and carries on, whatever the ledger has become since.

Every test loads the fixture's rows, byte for byte, into a database of its own. What the code
is held to is plain data: the fixture's rows, its manifest and the v1 lists written out below.
Every use of the ledger's internals is in tests/integration/log_v1.py, the one place to adapt
when they move.
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.codec.events import lots_data, lots_of
from ledger.codec.settings import settings_data, settings_of
from tests.conftest import FakeClock
from tests.integration.log_v1 import (
    FIXTURE,
    Entry,
    audit,
    command_types,
    content_hash,
    database_with_fixture,
    open_ledger,
    rehash_stored_events,
)

V1_EVENT_TYPES = [
    "HistoryImported",
    "MemberEnrolled",
    "PendingPointsReleased",
    "PointsAdjusted",
    "PointsEarned",
    "PointsExpired",
    "PointsRedeemed",
    "PointsReserved",
    "PointsTransferredIn",
    "PointsTransferredOut",
    "ProgramCreated",
    "ProgramUpdated",
    "PurchaseRecorded",
    "PurchaseRefunded",
    "ReservationCommitted",
    "ReservationReleased",
]
V1_COMMAND_TYPES = [
    "AdjustPoints",
    "CancelReservation",
    "CommitReservation",
    "ConfirmOrder",
    "CreateProgram",
    "EarnPoints",
    "Enroll",
    "ImportHistory",
    "RecordPurchase",
    "RedeemPoints",
    "RefundPurchase",
    "ReservePoints",
    "TransferPoints",
    "UpdateProgram",
]
MADE_FROM = "17e3e96b25c53b15f767a09bb85f97994558ec46"

MANIFEST: dict[str, Any] = json.loads((FIXTURE / "manifest.json").read_text("utf-8"))
WRITTEN_UNTIL = datetime.fromisoformat(MANIFEST["clock"]["end"])
BALANCES = {
    (item["program_id"], item["stream_id"]): item["balances"] for item in MANIFEST["final_balances"]
}
AUDITOR_SQL = re.search(
    r"```sql\n(.*?)```",
    (Path(__file__).parents[2] / "docs" / "HASH_CHAIN.md").read_text("utf-8"),
    re.DOTALL,
)

ATELIER, KISSA, CORNER = "atelier", "kissa", "corner"
ANA = "ana.silva@example.com"
PHONE = "+81-90-1234-5678"
USER_42 = "user_42:eu"
GUEST = "guest:0042"


@pytest.fixture(scope="module")
def written_log(server_url: str) -> Iterator[str]:
    """The fixture loaded into a database of its own, for the tests that only read it."""
    with database_with_fixture(server_url, "loyalty_log_v1") as url:
        yield url


@pytest.fixture
def log_to_carry_on(server_url: str) -> Iterator[str]:
    """The fixture loaded into a database of its own, for one test that writes to it."""
    with database_with_fixture(server_url, "loyalty_log_v1") as url:
        yield url


def _rows(url: str, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query, parameters).fetchall()


def _stored_requests(url: str) -> dict[tuple[str, str, str], tuple[bytes, dict[str, Any]]]:
    rows = _rows(
        url,
        "SELECT program_id, stream_id, request_id, request_hash, response FROM ledger.requests",
    )
    return {(row[0], row[1], row[2]): (bytes(row[3]), row[4]) for row in rows}


def _manifest_requests() -> dict[tuple[str, str, str], Entry]:
    return {
        (entry["program_id"], entry["stream_id"], entry["request_id"]): entry
        for entry in MANIFEST["requests"]
    }


def _log_snapshot(url: str) -> list[tuple[Any, ...]]:
    """The log's row counts and every state row, to tell that nothing at all was written."""
    return _rows(
        url,
        "SELECT 'events', count(*)::text, '' FROM ledger.events"
        " UNION ALL SELECT 'requests', count(*)::text, '' FROM ledger.requests"
        " UNION ALL (SELECT stream_id, version::text, md5(s::text) FROM ledger.streams AS s"
        " ORDER BY program_id, stream_id)",
    )


# --- the fixture itself -------------------------------------------------------------------------


def test_the_fixture_is_the_one_its_manifest_describes(written_log: str) -> None:
    assert MANIFEST["made_from_commit"] == MADE_FROM
    for file_name, described in MANIFEST["files"].items():
        data = (FIXTURE / file_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == described["sha256"], file_name
    counts = _rows(
        written_log,
        "SELECT (SELECT count(*) FROM ledger.events), (SELECT count(*) FROM ledger.streams),"
        " (SELECT count(*) FROM ledger.requests)",
    )
    assert counts == [
        (
            MANIFEST["files"]["events.copy"]["rows"],
            MANIFEST["files"]["streams.copy"]["rows"],
            MANIFEST["files"]["requests.copy"]["rows"],
        )
    ]
    by_type = dict(_rows(written_log, "SELECT event_type, count(*) FROM ledger.events GROUP BY 1"))
    assert by_type == MANIFEST["event_counts"]
    assert sorted(MANIFEST["event_counts"]) == V1_EVENT_TYPES
    assert sorted(_manifest_requests()) == sorted(_stored_requests(written_log))
    assert sorted({e["command"]["type"] for e in MANIFEST["requests"]}) == V1_COMMAND_TYPES


def test_the_fixture_holds_every_case_the_renovation_must_keep(written_log: str) -> None:
    rows = _rows(
        written_log,
        "SELECT program_id, stream_id, event_type, data, metadata ->> 'command'"
        " FROM ledger.events ORDER BY program_id, stream_id, version",
    )
    policy = {
        row[0]: row[3]["settings"]["negative_balance_policy"]
        for row in rows
        if row[2] == "ProgramCreated"
    }
    ordered = {
        (row[0], row[1], row[3]["order_id"]): row[3]["amount_minor"]
        for row in rows
        if row[2] == "PurchaseRecorded"
    }
    found: Counter[str] = Counter()
    for program_id, stream_id, event_type, data, command in rows:
        match event_type:
            case "PendingPointsReleased":
                found[f"released, {data['reason']}"] += 1
            case "PurchaseRefunded":
                whole = data["amount_minor"] == ordered[(program_id, stream_id, data["order_id"])]
                found["refunded in full" if whole else "refunded in part"] += 1
                if data["negative_points"]:
                    found[f"refund below zero, {policy[program_id]}"] += 1
                if data["points_not_recovered"]:
                    found[f"points not recovered, {policy[program_id]}"] += 1
            case "PointsAdjusted":
                up = data["points_delta_requested"] > 0
                found["adjusted up" if up else "adjusted down"] += 1
            case "ReservationCommitted":
                found["hold committed in part" if data["points_released"] else "in whole"] += 1
            case "ReservationReleased":
                found[f"hold released, {data['reason']}, by {command}"] += 1
            case "HistoryImported":
                found["imported up" if data["points_delta_imported"] > 0 else "imported down"] += 1
                if data["negative_points"]:
                    found["import below zero"] += 1
            case "PurchaseRecorded":
                found[f"purchase in {data['currency_code']}"] += 1
    assert set(found) == {
        "released, confirmed",
        "released, window_passed",
        "refunded in full",
        "refunded in part",
        "refund below zero, allow_negative",
        "points not recovered, pending_only",
        "points not recovered, within_balance",
        "adjusted up",
        "adjusted down",
        "hold committed in part",
        "in whole",
        "hold released, canceled, by CancelReservation",
        "hold released, expired, by Sweep",
        "imported up",
        "imported down",
        "import below zero",
        "purchase in USD",
        "purchase in JPY",
        "purchase in KWD",
    }
    member_ids = "".join(row[1] for row in rows)
    assert set("._:@+-") <= set(member_ids)
    texts = (FIXTURE / "events.copy").read_text("utf-8")
    # As COPY spells jsonb's escapes: \\" \\\\ \\n \\t; and characters jsonb prints raw.
    for spelled in (
        '\\\\"',
        "\\\\\\\\",
        "\\\\n",
        "\\\\t",
        "\x7f",
        "\u2028",
        "😀",
        "東京",
        "Возврат",
    ):
        assert spelled in texts, spelled
    open_orders = _rows(
        written_log,
        "SELECT count(*) FILTER (WHERE state -> 'pending' <> '{}'),"
        " count(*) FILTER (WHERE state -> 'holds' <> '{}') FROM ledger.streams",
    )
    assert open_orders == [(2, 1)]


# --- it verifies and replays ----------------------------------------------------------------------


def test_todays_audit_replays_the_log_cleanly_to_the_manifests_balances(written_log: str) -> None:
    result = audit(written_log)

    assert result.ok, result.discrepancies
    assert (result.streams, result.events) == (MANIFEST["streams"], MANIFEST["events"])
    assert result.final_balances == BALANCES


def test_the_auditors_sql_of_docs_hash_chain_finds_every_row_intact(written_log: str) -> None:
    assert AUDITOR_SQL is not None, "docs/HASH_CHAIN.md lost its SQL"

    rows = _rows(written_log, AUDITOR_SQL.group(1))

    assert len(rows) == MANIFEST["events"]
    assert [row for row in rows if row[-1] is not True] == []


async def test_the_writers_canonical_text_of_every_stored_event_hashes_to_its_stored_hash(
    written_log: str,
) -> None:
    rehashed = await rehash_stored_events(written_log)

    assert len(rehashed) == MANIFEST["events"]
    assert [
        (event.stream_id, event.version, event.event_type)
        for event in rehashed
        if event.recomputed_hash != event.stored_hash
    ] == []
    assert sorted({event.event_type for event in rehashed}) == V1_EVENT_TYPES


def test_every_stored_request_hash_is_the_content_hash_of_the_manifests_request(
    written_log: str,
) -> None:
    stored = _stored_requests(written_log)
    assert command_types() == V1_COMMAND_TYPES

    recomputed = {key: content_hash(entry) for key, entry in _manifest_requests().items()}

    assert [
        key for key, (request_hash, _) in stored.items() if recomputed[key] != request_hash
    ] == []
    assert len(recomputed) == len(stored) == MANIFEST["files"]["requests.copy"]["rows"]


async def test_every_stored_state_row_loads_as_the_account_the_replay_computed(
    written_log: str,
) -> None:
    versions = dict(
        ((row[0], row[1]), row[2])
        for row in _rows(written_log, "SELECT program_id, stream_id, version FROM ledger.streams")
    )

    async with open_ledger(written_log, FakeClock(WRITTEN_UNTIL)) as ledger:
        accounts = {key: await ledger.account(*key) for key in BALANCES}
        revisions = [await ledger.program_revision(p) for p in (ATELIER, KISSA, CORNER)]

    assert {key: account["balances"] for key, account in accounts.items()} == BALANCES
    assert all(account["version"] == versions[key] for key, account in accounts.items())
    assert revisions == [2, 1, 2]
    # Lots the first release keyed by the date they expired at the start of (UTC) read as
    # that very instant.
    assert accounts[(ATELIER, ANA)]["expiring"] == [
        {"points": 345, "expires_on": "2027-01-05T00:00:00.000000Z"},
    ]


# --- it carries on --------------------------------------------------------------------------------


async def test_a_retry_of_every_stored_request_gets_its_stored_answer_and_writes_nothing(
    log_to_carry_on: str,
) -> None:
    stored = _stored_requests(log_to_carry_on)
    before = _log_snapshot(log_to_carry_on)
    entries = _manifest_requests()
    redeem = next(e for e in MANIFEST["requests"] if e["command"]["type"] == "RedeemPoints")
    other_content = {
        **redeem,
        "command": {"type": "RedeemPoints", "fields": {**redeem["command"]["fields"], "points": 1}},
    }

    # A day on: the open hold has lapsed, due work waits on the account; a retry is a retry.
    async with open_ledger(log_to_carry_on, FakeClock(WRITTEN_UNTIL + timedelta(days=1))) as ledger:
        answers = {key: await ledger.execute(entries[key]) for key in sorted(stored)}
        reused = await ledger.refusal(other_content)

    # What the v1 ledger stored is what a retry gets now: the same events appended (none
    # more), the same accounts and program, and the result those events answer.
    assert [
        key
        for key, answer in answers.items()
        if {name: answer[name] for name in ("events", "accounts", "program")}
        != _as_read_now(stored[key][1])
    ] == []
    assert [
        key
        for key, answer in answers.items()
        if answer["result"] != _v1_result(entries[key], stored[key][1]["events"])
    ] == []
    assert reused == "REQUEST_ID_REUSED"
    assert _log_snapshot(log_to_carry_on) == before


def _as_read_now(answer: dict[str, Any]) -> dict[str, Any]:
    """A stored v1 answer with its program's settings as this release reads them: settings
    added since read back with their defaults (ledger/codec/settings.py), and the expiry
    dates of its accounts' lots as the instants they meant (ledger/codec/expiry.py)."""
    accounts = {
        key: {**account, "expiring": lots_data(lots_of(account["expiring"]))}
        for key, account in answer["accounts"].items()
    }
    answer = {**answer, "accounts": accounts}
    program = answer["program"]
    if program is None:
        return answer
    settings = settings_data(settings_of(program["state"]["settings"]))
    state = {**program["state"], "settings": settings}
    return {**answer, "program": {**program, "state": state}}


def _v1_result(entry: Entry, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a v1 answer's events say the command answered, as the API reports it."""
    fields = entry["command"]["fields"]

    def only(event_type: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [
            event["data"] for event in events if event["event_type"] == event_type
        ]
        (data,) = found
        return data

    def released(event_type: str, key: str, points: str) -> int:
        return sum(
            event["data"][points]
            for event in events
            if event["event_type"] == event_type and event["data"][key] == fields[key]
        )

    match entry["command"]["type"]:
        case "RecordPurchase":
            data = only("PurchaseRecorded")
            pending = data["release_at"] is not None and data["points"] > 0
            # Before order lines one rule, the currency's earn rate, gave all the points.
            rate_rule = {
                "rule_id": f"earn_rate:{data['currency_code']}",
                "kind": "earn_rate",
                "points": data["points"],
                "line_indexes": [],
            }
            return {
                "type": "PurchaseResult",
                "points": data["points"],
                "pending": pending,
                "rules": [rate_rule],
                "program_revision": data["program_revision"],
            }
        case "ConfirmOrder":
            points = released("PendingPointsReleased", "order_id", "points")
            return {"type": "ConfirmResult", "points_released": points}
        case "RefundPurchase":
            data = only("PurchaseRefunded")
            return {
                "type": "RefundResult",
                "points_clawed_back": data["points_clawed_back"],
                "points_not_recovered": data["points_not_recovered"],
            }
        case "ReservePoints":
            data = only("PointsReserved")
            return {
                "type": "ReservationResult",
                "reservation_id": data["reservation_id"],
                "points": data["points"],
                "expires_at": data["expires_at"],
            }
        case "CommitReservation":
            data = only("ReservationCommitted")
            return {
                "type": "CommitResult",
                "points_redeemed": data["points_redeemed"],
                "points_released": data["points_released"],
            }
        case "CancelReservation":
            points = released("ReservationReleased", "reservation_id", "points_released")
            return {"type": "CancelResult", "points_released": points}
        case "ImportHistory":
            imported = sum(event["event_type"] == "HistoryImported" for event in events)
            return {"type": "ImportResult", "events_imported": imported}
    return {"type": "Result"}


def _entry(request_id: str, program_id: str, stream_id: str, kind: str, **fields: Any) -> Entry:
    return {
        "request_id": request_id,
        "program_id": program_id,
        "stream_id": stream_id,
        "destination_stream_id": None,
        "actor": "pos:till-9",
        "trace_id": "",
        "command": {"type": kind, "fields": fields},
    }


def _only(answer: dict[str, Any], event_type: str) -> dict[str, Any]:
    assert [event["event_type"] for event in answer["events"]] == [event_type], answer["events"]
    data: dict[str, Any] = answer["events"][0]["data"]
    return data


async def test_the_log_carries_on_with_refunds_of_its_orders_a_commit_and_an_earn(
    log_to_carry_on: str,
) -> None:
    clock = FakeClock(WRITTEN_UNTIL + timedelta(minutes=10))  # res-open is held for an hour

    async with open_ledger(log_to_carry_on, clock) as ledger:
        # A-1001: 120.50 USD, 120 points, released when confirmed; half of it refunded.
        released = await ledger.execute(
            _entry(
                "after-v1-1",
                ATELIER,
                ANA,
                "RefundPurchase",
                order_id="A-1001",
                amount_minor=6025,
                currency_code="USD",
            )
        )
        # A-1002: 9,800 JPY, 98 points still pending; refunded in full.
        pending = await ledger.execute(
            _entry(
                "after-v1-2",
                ATELIER,
                ANA,
                "RefundPurchase",
                order_id="A-1002",
                amount_minor=9800,
                currency_code="JPY",
            )
        )
        committed = await ledger.execute(
            _entry(
                "after-v1-3", ATELIER, ANA, "CommitReservation", reservation_id="res-open", points=0
            )
        )
        earned = await ledger.execute(
            _entry("after-v1-4", ATELIER, PHONE, "EarnPoints", points=10, reason="review")
        )
        # KW-77: 12.345 KWD, 123 points, 5.000 KWD refunded (49 points) after its release;
        # the rest refunded: what is left of its 123 points, wherever they are read from.
        rest = await ledger.execute(
            _entry(
                "after-v1-5",
                ATELIER,
                USER_42,
                "RefundPurchase",
                order_id="KW-77",
                amount_minor=7345,
                currency_code="KWD",
            )
        )
        # K-4: 20,000 JPY, 60 points; half refunded when spent under pending_only, so 30 points
        # were written off. Refunding the other half must not chase those 30 again.
        written_off = await ledger.execute(
            _entry(
                "after-v1-6",
                KISSA,
                GUEST,
                "RefundPurchase",
                order_id="K-4",
                amount_minor=10000,
                currency_code="JPY",
            )
        )

    assert _only(released, "PurchaseRefunded") == {
        "order_id": "A-1001",
        "amount_minor": 6025,
        "points_clawed_back": 60,
        "from_pending": 0,
        "from_available": [{"points": 60, "expires_on": "2027-01-05T00:00:00.000000Z"}],
        "negative_points": 0,
        "points_not_recovered": 0,
    }
    assert _only(pending, "PurchaseRefunded")["from_pending"] == 98
    assert _only(committed, "ReservationCommitted")["points_redeemed"] == 30
    assert _only(earned, "PointsEarned") == {
        "points": 10,
        "reason": "review",
        # Earned now: at the end of the day its 365 days end, no longer at its start.
        "expires_on": "2027-02-13T00:00:00.000000Z",
        "program_revision": 2,
    }
    ana = committed["accounts"][ANA]
    assert (ana["version"], ana["balances"]) == (
        14,
        {
            **BALANCES[(ATELIER, ANA)],
            "available": 285,
            "pending": 0,
            "held": 0,
            "lifetime_earned": 743 - 60 - 98,
            "lifetime_redeemed": 180,
        },
    )
    assert earned["accounts"][PHONE]["balances"]["available"] == 323
    assert _only(rest, "PurchaseRefunded")["from_available"] == [
        {"points": 74, "expires_on": "2027-01-05T00:00:00.000000Z"}
    ]
    assert _only(written_off, "PurchaseRefunded")["points_not_recovered"] == 30
    result = audit(log_to_carry_on)
    assert result.ok, result.discrepancies
    assert result.events == MANIFEST["events"] + 6


async def test_a_sweep_two_years_on_releases_and_expires_all_the_log_left_due(
    log_to_carry_on: str,
) -> None:
    async with open_ledger(
        log_to_carry_on, FakeClock(WRITTEN_UNTIL + timedelta(days=730))
    ) as ledger:
        appended = await ledger.sweep()
        again = await ledger.sweep()

    swept = dict(
        _rows(
            log_to_carry_on,
            "SELECT concat_ws(', ', event_type, data ->> 'reason', metadata ->> 'command'),"
            " count(*) FROM ledger.events WHERE recorded_at > %(written_until)s GROUP BY 1",
            {"written_until": WRITTEN_UNTIL},
        )
    )
    result = audit(log_to_carry_on)
    assert result.ok, result.discrepancies
    assert (appended, again) == (10, 0)
    assert result.events == MANIFEST["events"] + 10
    # ana: res-open lapses, A-1002 is released, then her lots of 2027-01-05 and 2027-02-12
    # expire; +81-90-1234-5678, user_42:eu, imported-7 and guest:0042 one lot each; tanaka:
    # K-3 is released into her lot of 2026-03-14, which expires. corner's never expire.
    assert swept == {
        "ReservationReleased, expired, Sweep": 1,
        "PendingPointsReleased, window_passed, Sweep": 2,
        "PointsExpired, Sweep": 7,
    }
    for (program_id, stream_id), balances in result.final_balances.items():
        if program_id == CORNER:  # points that never expire, nothing pending
            assert balances == BALANCES[(program_id, stream_id)]
        else:
            assert balances["pending"] == balances["held"] == 0, stream_id
            assert balances["available"] <= 0, stream_id


async def test_a_lot_the_first_release_dated_expires_at_the_start_of_that_day_utc_as_it_did(
    log_to_carry_on: str,
) -> None:
    # Ana's lot of 2027-01-05 (written as a date): still hers a microsecond before midnight
    # UTC starting that day, expired at it, whatever the end-of-day rule says for new lots.
    midnight = datetime(2027, 1, 5, tzinfo=UTC)
    lot_expiry = "2027-01-05T00:00:00.000000Z"
    async with open_ledger(
        log_to_carry_on, FakeClock(midnight - timedelta(microseconds=1))
    ) as ledger:
        await ledger.sweep()
        before = await ledger.account(ATELIER, ANA)
    async with open_ledger(log_to_carry_on, FakeClock(midnight)) as ledger:
        await ledger.sweep()
        after = await ledger.account(ATELIER, ANA)

    assert lot_expiry in [portion["expires_on"] for portion in before["expiring"]]
    assert lot_expiry not in [portion["expires_on"] for portion in after["expiring"]]
    expired = _rows(
        log_to_carry_on,
        "SELECT data FROM ledger.events WHERE event_type = 'PointsExpired'"
        " AND recorded_at > %(written_until)s AND stream_id = %(ana)s",
        {"written_until": WRITTEN_UNTIL, "ana": ANA},
    )
    assert [row[0]["expires_on"] for row in expired] == [lot_expiry]
    result = audit(log_to_carry_on)
    assert result.ok, result.discrepancies
