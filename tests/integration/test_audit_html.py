"""The finance report's HTML page, opened in a real headless Chromium (Debian's package, which
`make test` installs: see the Makefile's `browser` step): its charts render, and every number
in its table is the JSON report's.

Without /usr/bin/chromium these tests fail, naming it, rather than skip: a page no browser
opened proves nothing."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ledger.audit.report_html import (
    EXPIRED_COLOUR,
    ISSUED_COLOUR,
    LIABILITY_COLOUR,
    REDEEMED_COLOUR,
)
from tests.conftest import FakeClock
from tests.integration.finance_log import april, march, new_scenario
from tests.integration.ledgers import running_ledger
from tests.integration.png import colour_counts

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BROWSER_SECONDS = 120
WINDOW = (800, 1150)
"""Wide enough for a chart, tall enough for the first program's charts."""
LEAST_PIXELS = 200
"""A bar or a line drawn at all covers far more pixels of its colour than this."""


@pytest.fixture
async def program_id(database_url: str, clock: FakeClock) -> str:
    """A program with two months of every kind of event."""
    async with running_ledger(database_url, clock) as ledger:
        scenario = await new_scenario(ledger, clock)
        await march(scenario)
        await april(scenario)
    return scenario.program_id


@pytest.fixture
def pages(database_url: str, program_id: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The HTML and the JSON report of the program, written by the command."""
    page = tmp_path / "report.html"
    for arguments in (["--report", "html", "--output", str(page)], ["--report", "json"]):
        written = subprocess.run(  # noqa: S603 - our own entry point
            [
                str(Path(sys.executable).parent / "loyalty-ledger"),
                "audit",
                "--program",
                program_id,
                *arguments,
            ],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert written.returncode == 0, written.stderr
    return page, json.loads(written.stdout)


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    return subprocess.run(  # noqa: S603 - Debian's browser, our own page
        [
            str(CHROMIUM),
            "--headless",
            # Root in a container has no user namespace for the sandbox; the page is our own.
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *arguments,
        ],
        capture_output=True,
        timeout=BROWSER_SECONDS,
        check=True,
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def test_the_charts_render_in_a_real_browser(
    pages: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    page, _ = pages
    shot = tmp_path / "report.png"

    _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())

    counts = colour_counts(shot.read_bytes())
    drawn = {
        name: counts[_rgb(colour)]
        for name, colour in (
            ("liability line", LIABILITY_COLOUR),
            ("issued bars", ISSUED_COLOUR),
            ("redeemed bars", REDEEMED_COLOUR),
            ("expired bars", EXPIRED_COLOUR),
        )
    }
    assert all(pixels > LEAST_PIXELS for pixels in drawn.values()), drawn


class _Page(HTMLParser):
    """The charts' elements and the table's cells, as the browser's DOM holds them."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.bars: list[dict[str, str]] = []
        self.lines: list[str] = []
        self.cells: dict[tuple[str, str], str] = {}
        self._month = ""
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg" and "data-chart" in attributes:
            self.charts.append(attributes["data-chart"])
        elif tag == "rect" and "bar" in attributes.get("class", ""):
            self.bars.append(attributes)
        elif tag == "polyline":
            self.lines.append(attributes["points"])
        elif tag == "tr" and "data-month" in attributes:
            self._month = attributes["data-month"]
        elif tag == "td" and "data-field" in attributes:
            self._field = attributes["data-field"]

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.cells[self._month, self._field] = data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._field = None


def _dom(tmp_path: Path, page: Path) -> _Page:
    dumped = _chromium(tmp_path, "--dump-dom", page.as_uri())
    parsed = _Page()
    parsed.feed(dumped.stdout.decode())
    return parsed


def _on_page(value: Any) -> str:
    return "" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _json_cells(month: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for field, value in month.items():
        if field == "liability":
            for each in value:
                yield f"liability:{each['currency']}", each["amount"]
        elif field not in ("month", "period_end"):
            yield field, _on_page(value)


def test_every_number_in_the_pages_table_is_the_json_reports(
    pages: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    page, report = pages

    dom = _dom(tmp_path, page)

    (program,) = report["programs"]
    months = program["months"]
    compared = 0
    for month in months:
        for field, value in _json_cells(month):
            if field == "unclassified":
                continue  # shown only in the JSON and CSV, and in a warning when not zero
            shown = dom.cells[month["month"], field]
            assert shown.replace(",", "") == value.replace(",", ""), (month["month"], field)
            compared += 1
    assert compared == len(months) * 22
    # The charts are in the DOM the browser built: one liability line per currency and the
    # flows' bars, three per month, drawn to the JSON's scale.
    assert sorted(dom.charts) == ["flows", "liability:EUR", "liability:USD"]
    assert [len(line.split()) for line in dom.lines] == [len(months), len(months)]
    heights = {
        (bar["data-month"], bar["class"].split()[1]): float(bar["height"]) for bar in dom.bars
    }
    assert len(heights) == 3 * len(months)
    issued_march, issued_april = (month["issued_total"] for month in months)
    march_name, april_name = (month["month"] for month in months)
    assert heights[april_name, "issued"] / heights[march_name, "issued"] == pytest.approx(
        issued_april / issued_march, rel=0.01
    )
