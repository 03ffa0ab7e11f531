"""The finance report: on a log with every kind of event, its figures equal what the test's
own operations add up to, per month in the program's time zone; a past month's report reads
the same after later activity; the command writes it as JSON, CSV and HTML."""

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.audit.finance_report import CSV_COLUMNS, AuditReport, as_json, audit_report
from ledger.audit.liability import Liability
from ledger.audit.point_flows import CLAWED_BACK, EXPIRED, FLOW_COLUMNS, ISSUED
from ledger.audit.replay import replay
from tests.conftest import FakeClock
from tests.integration.finance_log import (
    APRIL,
    EUR_NANOS,
    MARCH,
    USD_NANOS,
    Scenario,
    april,
    march,
    new_scenario,
)
from tests.integration.ledgers import running_ledger

END_OF_MARCH = date(2026, 3, 31)


class Reports:
    def __init__(self, scenario: Scenario, before: AuditReport, after: AuditReport) -> None:
        self.scenario = scenario
        self.march_before_april = before
        self.march_after_april = after


@pytest.fixture
async def reports(database_url: str, clock: FakeClock) -> Reports:
    async with running_ledger(database_url, clock) as ledger:
        scenario = await new_scenario(ledger, clock)
        await march(scenario)
        before = audit_report(database_url, scenario.program_id, as_of=END_OF_MARCH)
        await april(scenario)
    after = audit_report(database_url, scenario.program_id, as_of=END_OF_MARCH, workers=2)
    return Reports(scenario, before, after)


def _months(report: AuditReport) -> dict[str, Any]:
    (program,) = as_json(report)["programs"]
    return {month["month"]: month for month in program["months"]}


def _expected_month(scenario: Scenario, month: str) -> dict[str, int]:
    flows: Counter[str] = scenario.tally.flows.get(month, Counter())
    expected = {column: flows.get(column, 0) for column in FLOW_COLUMNS}
    expected["issued_total"] = sum(expected[column] for column in ISSUED)
    return {**expected, **scenario.tally.stocks[month]}


def test_every_figure_of_every_month_equals_what_the_operations_added_up_to(
    database_url: str, reports: Reports
) -> None:
    scenario = reports.scenario
    whole = audit_report(database_url, scenario.program_id, workers=2)

    assert whole.ok
    months = _months(whole)
    assert list(months) == [MARCH, APRIL]
    for month, figures in months.items():
        expected = _expected_month(scenario, month)
        assert {key: figures[key] for key in expected} == expected, month
    assert whole.unclassified_event_types == ()
    (program,) = as_json(whole)["programs"]
    flows = scenario.tally.flows
    for column in FLOW_COLUMNS:
        assert program["totals"][column] == sum(flows[month][column] for month in flows), column
    assert (
        program["totals"]["outstanding_points"]
        == scenario.tally.stocks[APRIL]["outstanding_points"]
    )


def test_the_liability_is_valued_at_the_point_values_per_currency(
    database_url: str, reports: Reports
) -> None:
    april_figures = _months(audit_report(database_url, reports.scenario.program_id))[APRIL]

    liable = reports.scenario.tally.stocks[APRIL]["liability_points"]
    assert april_figures["liability_points"] == liable
    assert {each["currency"]: Decimal(each["amount"]) for each in april_figures["liability"]} == {
        "USD": liable * Decimal(USD_NANOS) / 10**9,
        "EUR": liable * Decimal(EUR_NANOS) / 10**9,
    }
    assert {each["currency"]: each["point_value"] for each in april_figures["liability"]} == {
        "USD": "0.01",
        "EUR": "0.009",
    }


def test_the_last_months_liability_is_the_plain_audits(database_url: str, reports: Reports) -> None:
    program_id = reports.scenario.program_id

    report = as_json(audit_report(database_url, program_id, workers=2))
    summary = replay(database_url, program_id, accumulators=[Liability]).get(Liability)

    (program,) = report["programs"]
    assert program["totals"]["liability_points"] == summary.points[program_id]
    valued = program["totals"]["liability"]
    assert {each["currency"]: Decimal(each["amount"]) for each in valued} == summary.money()[
        program_id
    ]


def test_the_breakage_rate_is_expired_over_issued_net_of_claw_backs_to_date(
    database_url: str, reports: Reports
) -> None:
    months = _months(audit_report(database_url, reports.scenario.program_id))

    tally = reports.scenario.tally.flows
    issued = sum(tally[month][column] for month in (MARCH, APRIL) for column in ISSUED)
    net = issued - tally[MARCH][CLAWED_BACK]
    assert Decimal(months[MARCH]["breakage_rate"]) == 0
    assert months[APRIL]["breakage_rate"] == str(
        (Decimal(tally[APRIL][EXPIRED]) / net).quantize(Decimal("0.000001"))
    )


def test_a_past_month_end_reads_the_same_after_later_activity(
    database_url: str, reports: Reports
) -> None:
    before = as_json(reports.march_before_april)["programs"]
    after = as_json(reports.march_after_april)["programs"]
    whole = _months(audit_report(database_url, reports.scenario.program_id))

    assert after == before
    assert before[0]["months"][-1]["month"] == MARCH
    # The whole log's March is that same month too, its end at midnight in New York.
    assert whole[MARCH] == before[0]["months"][-1]
    assert whole[MARCH]["period_end"] == "2026-04-01T04:00:00.000000Z"
    # April's activity did happen: the as-of report left it out.
    assert whole[APRIL]["expired"] > 0


def _command(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point
        [str(Path(sys.executable).parent / "loyalty-ledger"), "audit", *arguments],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_writes_the_report_as_json_and_csv_with_the_same_figures(
    database_url: str, reports: Reports
) -> None:
    program_id = reports.scenario.program_id
    arguments = ("--program", program_id, "--as-of", "2026-03-31", "--workers", "2")

    as_json_text = _command(database_url, *arguments, "--report", "json")
    as_csv_text = _command(database_url, *arguments, "--report", "csv")

    assert as_json_text.returncode == 0, as_json_text.stderr
    assert as_csv_text.returncode == 0, as_csv_text.stderr
    printed = json.loads(as_json_text.stdout)
    assert printed["programs"] == as_json(reports.march_before_april)["programs"]
    rows = list(csv.DictReader(io.StringIO(as_csv_text.stdout)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    (month,) = printed["programs"][0]["months"]
    assert [(row["month"], row["currency"]) for row in rows] == [(MARCH, "EUR"), (MARCH, "USD")]
    for row in rows:
        for column in (*FLOW_COLUMNS, "issued_total", "outstanding_points", "pending_points"):
            assert int(row[column]) == month[column], column
        (valuation,) = [each for each in month["liability"] if each["currency"] == row["currency"]]
        assert (row["point_value"], row["liability"]) == (
            valuation["point_value"],
            valuation["amount"],
        )


def test_the_command_shows_progress_on_stderr_when_asked(
    database_url: str, reports: Reports
) -> None:
    program_id = reports.scenario.program_id

    written = _command(database_url, "--program", program_id, "--report", "csv", "--progress")

    assert written.returncode == 0, written.stderr
    assert "events/s" in written.stderr.splitlines()[-1]
    assert written.stdout.startswith(",".join(CSV_COLUMNS))


@pytest.mark.parametrize("report", ["json", "csv", "html"])
def test_a_report_of_a_program_the_log_does_not_hold_is_an_error(
    database_url: str, report: str
) -> None:
    refused = _command(database_url, "--program", "no-such-program", "--report", report)

    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert json.loads(line)["reason"] == "PROGRAM_NOT_FOUND"


def test_as_of_without_a_report_or_without_an_offset_is_refused(database_url: str) -> None:
    summary = _command(database_url, "--as-of", "2026-03-31")
    naive = _command(database_url, "--report", "json", "--as-of", "2026-03-31T18:00:00")

    assert summary.returncode == naive.returncode == 2
    assert summary.stdout == naive.stdout == ""
    assert json.loads(summary.stderr)["reason"] == "AS_OF_NEEDS_REPORT"
    assert "has no offset" in naive.stderr


def test_an_instant_as_of_leaves_out_what_was_recorded_after_it(
    database_url: str, reports: Reports
) -> None:
    # Bob's 7 points were earned at 02:00 UTC on 1 April: an hour later than this.
    at = datetime(2026, 4, 1, 1, tzinfo=UTC)

    months = _months(audit_report(database_url, reports.scenario.program_id, as_of=at))

    expected = _expected_month(reports.scenario, MARCH)
    assert list(months) == [MARCH]
    assert months[MARCH]["issued_earn"] == expected["issued_earn"] - 7
    assert months[MARCH]["outstanding_points"] == expected["outstanding_points"] - 7
    assert months[MARCH]["liability_points"] == expected["liability_points"] - 7
    assert months[MARCH]["period_end"] == "2026-04-01T01:00:00.000001Z"
