"""`loyalty-ledger what-if`: a period's recorded history rerun under a proposed program
revision (ledger/audit/what_if.py), writing nothing (README "What-if replay")."""

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from ledger import bootstrap
from ledger.audit.what_if import Figures, Proposal, TierLine, WhatIfReport, what_if
from ledger.domain.errors import InvalidArgument, NotFound
from loyalty.v1 import ledger_pb2 as pb
from service import mapping
from service.audit_report_cli import as_of_argument
from service.cli_exits import NOTHING_TO_DO, refused
from service.cli_numbers import WORKERS, default_workers

REDACTED = "<member>"
LINKS_PER_READ = 1_000


def add_what_if_command(commands: "argparse._SubParsersAction[Any]") -> None:
    command = commands.add_parser(
        "what-if",
        help="rerun a period's purchases, actions, refunds, milestones, referral credits and"
        " expiry under a proposed program revision, writing nothing; exit 2 on a bad proposal"
        " or an unknown program or revision",
    )
    command.add_argument("--program", required=True, help="the program's id")
    proposal = command.add_mutually_exclusive_group(required=True)
    proposal.add_argument(
        "--settings",
        type=Path,
        help="a JSON file of the proposed settings: the API's Program message (proto3 JSON)",
    )
    proposal.add_argument(
        "--revision", type=int, help="rerun under this revision of the program instead"
    )
    for name, what in (("--from", "first day or instant"), ("--to", "day or instant after")):
        command.add_argument(
            name,
            dest=name[2:],
            required=True,
            type=as_of_argument,
            help=f"the period's {what} (a day starts at midnight in the program's time zone)",
        )
    command.add_argument("--json", action="store_true", help="print JSON rather than a table")
    command.add_argument(
        "--member-ids",
        action="store_true",
        help="name members by their ids (looked up in the member links) rather than <member>",
    )
    command.add_argument("--workers", type=WORKERS, default=default_workers())
    command.set_defaults(run=run_what_if)


def run_what_if(args: argparse.Namespace) -> int:
    try:
        proposal = _proposal(args)
        report = what_if(
            bootstrap.database_url(),
            args.program,
            proposal,
            args.__dict__["from"],
            args.to,
            workers=args.workers,
        )
    except InvalidArgument as error:
        print(json.dumps(_refusal(error)), file=sys.stderr)
        return 2
    except NotFound as error:
        return refused(error, NOTHING_TO_DO)
    ids = _member_ids(report) if args.member_ids else {}
    if args.json:
        print(json.dumps(as_json(report, ids), indent=2))
    else:
        print("\n".join(as_table(report, ids)))
    return 0


def _proposal(args: argparse.Namespace) -> Proposal:
    if args.revision is not None:
        return int(args.revision)
    try:
        text = Path(args.settings).read_text(encoding="utf-8")
        message = json_format.Parse(text, pb.Program())
    except (OSError, UnicodeDecodeError, json_format.ParseError) as error:
        raise InvalidArgument.of(
            "settings", f"{args.settings}: {error}", reason="SETTINGS_FILE_INVALID"
        ) from error
    return mapping.program_settings(message)


def _refusal(error: InvalidArgument) -> dict[str, Any]:
    return {
        "reason": error.reason,
        "message": error.message,
        "field_violations": [
            {"field": each.field, "description": each.description} for each in error.violations
        ],
    }


def _member_ids(report: WhatIfReport) -> dict[str, str]:
    """Member key -> id through the member links; a forgotten member has none."""
    keys = [key for key, _ in report.members]

    async def look_up() -> dict[str, str]:
        found: dict[str, str] = {}
        async with bootstrap.postgres_ledger(
            bootstrap.database_url(), _now, pool_min_size=1, pool_max_size=1
        ) as ledger:
            for first in range(0, len(keys), LINKS_PER_READ):
                wanted = [(report.program_id, key) for key in keys[first : first + LINKS_PER_READ]]
                ids = await ledger.log.member_ids(wanted)
                found.update({key: member_id for (_, key), member_id in ids.items()})
        return found

    return asyncio.run(look_up()) if keys else {}


def _now() -> datetime:
    return datetime.now(UTC)


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "points_recorded": figures.recorded_total,
        "points_proposed": figures.simulated_total,
        "difference": figures.difference,
        "by_kind": {
            kind: {"recorded": recorded, "proposed": proposed, "difference": proposed - recorded}
            for kind, (recorded, proposed) in figures.by_kind().items()
        },
    }


def as_json(report: WhatIfReport, ids: dict[str, str]) -> dict[str, Any]:
    tiers = dict(report.tiers)
    moves = report.tier_moves()
    return {
        "program_id": report.program_id,
        "from": report.start,
        "to": report.end,
        "proposed_revision": report.proposed_revision,
        "events_rerun": report.events,
        "total": {
            **_figures(report.total),
            "liability_difference": {
                currency: str(amount) for currency, amount in report.liability_difference().items()
            },
            "tier_moves": {"recorded": moves[0], "proposed": moves[1]},
            "members_per_tier": {
                tier: {"recorded": recorded, "proposed": proposed}
                for tier, (recorded, proposed) in report.members_per_tier().items()
            },
        },
        "members": [
            {
                "member_key": key,
                "member": ids.get(key, REDACTED),
                **_figures(figures),
                **_tier(tiers.get(key)),
            }
            for key, figures in report.members
        ],
    }


def _tier(line: TierLine | None) -> dict[str, Any]:
    if line is None:
        return {}
    return {
        "tier": {
            "recorded": line.recorded,
            "proposed": line.proposed,
            "moves_recorded": line.recorded_moves,
            "moves_proposed": line.proposed_moves,
        }
    }


def as_table(report: WhatIfReport, ids: dict[str, str]) -> Iterable[str]:
    revision = report.proposed_revision
    yield (
        f"program {report.program_id}, from {report.start} to {report.end} (exclusive),"
        f" {'revision ' + str(revision) if revision else 'proposed settings'}:"
        f" {report.events} events rerun"
    )
    # The kinds the period had (recorded or proposed) as columns; --json shows every kind.
    kinds = [kind for kind, figures in report.total.by_kind().items() if any(figures)]
    header = ["member_key", "member"]
    for kind in kinds:
        header += [f"{kind}_recorded", f"{kind}_proposed"]
    header += ["difference"]
    tiers = dict(report.tiers)
    if tiers:
        header += ["tier_recorded", "tier_proposed"]
    yield "\t".join(header)
    for key, figures in report.members:
        row = [key, ids.get(key, REDACTED), *_cells(figures, kinds)]
        if tiers:
            line = tiers.get(key)
            row += [line.recorded, line.proposed] if line is not None else ["", ""]
        yield "\t".join(row)
    yield "\t".join(["total", "", *_cells(report.total, kinds)])
    if tiers:
        recorded, proposed = report.tier_moves()
        yield f"tier moves: {recorded} recorded, {proposed} proposed"
        for tier, (recorded, proposed) in report.members_per_tier().items():
            yield f"members in {tier or '(no tier)'}: {recorded} recorded, {proposed} proposed"
    for currency, amount in report.liability_difference().items():
        yield f"liability difference: {amount} {currency}"


def _cells(figures: Figures, kinds: list[str]) -> list[str]:
    cells = []
    by_kind = figures.by_kind()
    for kind in kinds:
        recorded, proposed = by_kind[kind]
        cells += [str(recorded), str(proposed)]
    return [*cells, str(figures.difference)]
