"""`loyalty-ledger what-if`: the proposed settings as the API's Program JSON, or a revision
number; member ids shown only when asked."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import FakeClock
from tests.integration.ledgers import member_key
from tests.integration.test_what_if import tiered_log, what_if_log


def _what_if(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point
        [str(Path(sys.executable).parent / "loyalty-ledger"), "what-if", *arguments],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _period(program_id: str) -> list[str]:
    return ["--program", program_id, "--from", "2026-03-02", "--to", "2026-03-05"]


async def test_proposed_settings_from_the_apis_program_json(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    program_id, _, members = await what_if_log(database_url, clock)
    proposed = tmp_path / "program.json"
    # Two points a dollar, no multiplier and no rewarded action.
    proposed.write_text(
        json.dumps({"earnRates": [{"currencyCode": "USD", "points": 2, "perMajorUnits": 1}]})
    )

    done = _what_if(database_url, *_period(program_id), "--settings", str(proposed), "--json")

    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    total = report["total"]
    assert total["by_kind"]["purchase"] == {
        "recorded": 25 + 120 + 7 + 26,
        "proposed": 2 * (25 + 60 + 7 + 13),
        "difference": 2 * (25 + 60 + 7 + 13) - (25 + 120 + 7 + 26),
    }
    assert total["by_kind"]["action"] == {"recorded": 100, "proposed": 0, "difference": -100}
    assert total["liability_difference"] == {"USD": str(total["difference"] / 100)}
    assert {row["member"] for row in report["members"]} == {"<member>"}
    assert not any(member in done.stdout for member in members)

    table = _what_if(database_url, *_period(program_id), "--settings", str(proposed))

    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split("\t") == [
        "member_key",
        "member",
        "purchase_recorded",
        "purchase_proposed",
        "action_recorded",
        "action_proposed",
        "difference",
    ]
    assert lines[-2].split("\t") == ["total", "", "178", "210", "100", "0", "-68"]
    assert lines[-1] == "liability difference: -0.68 USD"
    assert not any(member in table.stdout for member in members)

    named = _what_if(
        database_url, *_period(program_id), "--revision", "1", "--json", "--member-ids"
    )

    assert named.returncode == 0, named.stderr
    rows = json.loads(named.stdout)["members"]
    assert {row["member_key"]: row["member"] for row in rows} == {
        member_key(database_url, program_id, member): member for member in members
    }
    assert {row["difference"] for row in rows} == {0}


async def test_a_bad_proposal_is_refused_naming_the_field(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    program_id, _, _ = await what_if_log(database_url, clock)
    proposed = tmp_path / "program.json"
    proposed.write_text(
        json.dumps({"earnRates": [{"currencyCode": "USD", "points": -1, "perMajorUnits": 1}]})
    )

    done = _what_if(database_url, *_period(program_id), "--settings", str(proposed))

    assert done.returncode == 2
    refusal = json.loads(done.stderr)
    assert [each["field"] for each in refusal["field_violations"]] == [
        "program.earn_rates[0].points"
    ]
    assert done.stdout == ""


async def test_tier_moves_and_members_per_tier_are_reported(
    database_url: str, clock: FakeClock
) -> None:
    program_id, alice, _ = await tiered_log(database_url, clock)

    done = _what_if(database_url, *_period(program_id), "--revision", "1", "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total"]["tier_moves"] == {"recorded": 1, "proposed": 1}
    assert report["total"]["members_per_tier"] == {
        "": {"recorded": 1, "proposed": 1},
        "silver": {"recorded": 1, "proposed": 1},
    }
    rows = {row["member_key"]: row for row in report["members"]}
    assert rows[member_key(database_url, program_id, alice)]["tier"] == {
        "recorded": "silver",
        "proposed": "silver",
        "moves_recorded": 1,
        "moves_proposed": 1,
    }
    table = _what_if(database_url, *_period(program_id), "--revision", "1")
    assert "tier moves: 1 recorded, 1 proposed" in table.stdout.splitlines()
