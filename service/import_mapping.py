"""ImportHistory's request read into one command per account, every bad event named at once.

Every event is checked before any share is appended: the shares are appended separately, and
one refused share must not leave the others appended.
"""

from collections import defaultdict
from datetime import datetime

from ledger.domain import clock, limits
from ledger.domain import commands as cmd
from ledger.domain.errors import Violations
from ledger.members import check_free_text
from ledger.requests import request_id_problem
from loyalty.v1 import ledger_pb2 as pb
from service import mapping
from service.names import parse_account


def import_shares(
    request: pb.ImportHistoryRequest, program_id: str, now: datetime, found: Violations
) -> dict[str, cmd.ImportHistory]:
    """Member id -> that account's share of the import. Whatever is wrong is added to
    `found` (`program_id` is "" for a parent found wrong), each event by its index."""
    problem = request_id_problem(request.request_id)
    if problem is not None:
        found.add("request_id", problem, reason="REQUEST_ID_INVALID")
    if len(request.events) > limits.MAX_IMPORT_EVENTS:
        found.add(
            "events", f"at most {limits.MAX_IMPORT_EVENTS} per request", reason="IMPORT_TOO_LARGE"
        )
        return {}  # not read: too many
    by_member: dict[str, list[cmd.HistoricalEntry]] = defaultdict(list)
    for index, event in enumerate(request.events):
        member_id, occurred = _event(event, f"events[{index}]", program_id, now, found)
        by_member[member_id].append(
            cmd.HistoricalEntry(
                index, event.external_id, event.kind, event.points_delta, clock.instant(occurred)
            )
        )
    shares = {
        member_id: cmd.ImportHistory(program_id, member_id, tuple(entries))
        for member_id, entries in by_member.items()
    }
    # The events' own checks, in the request's order (a share holds one account's events).
    every_event = Violations()
    entries = sorted((e for share in shares.values() for e in share.entries), key=_index)
    cmd.ImportHistory(program_id, "", tuple(entries)).validate(every_event)
    found.add_unless_named(every_event.items)
    for member_id in shares:
        in_free_text = Violations()
        check_free_text(request.request_id, member_id, found=in_free_text)
        found.add_unless_named(in_free_text.items)  # the request id named once
    return shares


def _event(
    event: pb.HistoricalEvent, where: str, program_id: str, now: datetime, found: Violations
) -> tuple[str, datetime]:
    """(member id, time) of one imported event; `now` stands in for a time found wrong."""
    event_program, member_id = parse_account(event.account, f"{where}.account", found)
    if event_program and program_id and event_program != program_id:
        found.add(
            f"{where}.account", "must be in the parent program", reason="ACCOUNT_IN_OTHER_PROGRAM"
        )
    if not event.HasField("occur_time"):
        found.add(f"{where}.occur_time", "is required", reason="OCCUR_TIME_REQUIRED")
        return member_id, now
    occurred = mapping.datetime_of(event.occur_time, f"{where}.occur_time", found)
    if occurred > now:
        found.add(f"{where}.occur_time", "must not be in the future", reason="OCCUR_TIME_IN_FUTURE")
        return member_id, now
    return member_id, occurred


def _index(entry: cmd.HistoricalEntry) -> int:
    return entry.index
