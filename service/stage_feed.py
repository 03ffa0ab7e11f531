"""StreamStageChanges: a program's loyalty stage and tier changes from a position, catch-up
then live.

The changes come from the stage view's history (ledger/projections/stage_view.py), in feed
order: the global position of the event that made each change (a lapse: the view's
checkpoint when its sweep found it; a tier change: its TierChanged event), then an ordinal.
Live, the feed looks for new changes every POLL_SECONDS; a caller resumes with the last
position it received.
"""

import asyncio
from collections.abc import AsyncGenerator

from ledger.application import Ledger
from ledger.domain.errors import Violations
from ledger.projections.stage_view import (
    MAX_CHANGES_PER_READ,
    ChangePosition,
    FeedChange,
    StageChangeEntry,
)
from loyalty.v1 import ledger_pb2 as pb
from service.names import account_name, parse_program
from service.stage_mapping import STAGE_TO_PROTO

POLL_SECONDS = 1.0
"""How often a live feed looks for changes once caught up: the stage view itself follows
the log a moment behind, so looking more often would find little sooner."""
MAX_POSITION_LENGTH = 64


def parse_position(text: str, found: Violations) -> ChangePosition:
    """The position a caller resumes after; a bad one is added to `found`."""
    if not text:
        return ChangePosition()
    try:
        if len(text) > MAX_POSITION_LENGTH:
            raise ValueError(text)
        position = ChangePosition.decode(text)
    except ValueError:
        position = None
    if (
        position is None
        or position.at.transaction_id >= 2**64
        or max(position.at.position, position.ordinal) >= 2**63
    ):
        found.add(
            "after_position", "is not a position this feed returned", reason="POSITION_INVALID"
        )
        return ChangePosition()
    return position


KIND_OF_PROTO = {pb.CHANGE_KIND_STAGE: "stage", pb.CHANGE_KIND_TIER: "tier"}


def parse_kinds(kinds: list[pb.ChangeKind.ValueType], found: Violations) -> frozenset[str] | None:
    """The kinds asked for; None for every kind (an empty list). Bad ones are added to
    `found`, each by its index."""
    if not kinds:
        return None
    seen: set[str] = set()
    for index, kind in enumerate(kinds):
        name = KIND_OF_PROTO.get(kind)
        if name is None:
            found.add(
                f"kinds[{index}]",
                "must be CHANGE_KIND_STAGE or CHANGE_KIND_TIER",
                reason="CHANGE_KIND_INVALID",
            )
        elif name in seen:
            found.add(f"kinds[{index}]", "each kind at most once", reason="CHANGE_KIND_INVALID")
        else:
            seen.add(name)
    return frozenset(seen)


def _message(entry: FeedChange) -> pb.StreamStageChangesResponse:
    message = pb.StreamStageChangesResponse(
        position=entry.position.encode(),
        account="" if entry.member_id is None else account_name(entry.program_id, entry.member_id),
        member_key=entry.member_key,
        cause_event_id=entry.cause_event_id or "",
        cause_event_type=entry.cause_event_type,
    )
    if isinstance(entry, StageChangeEntry):
        message.stage_change.CopyFrom(
            pb.StageChange(
                from_stage=STAGE_TO_PROTO[entry.from_stage], to_stage=STAGE_TO_PROTO[entry.to_stage]
            )
        )
    else:
        message.tier_change.CopyFrom(
            pb.TierChange(
                from_tier=entry.from_tier,
                to_tier=entry.to_tier,
                reason=entry.reason,
                qualifying_figure=entry.qualifying_figure,
            )
        )
    message.change_time.FromDatetime(entry.change_time)
    return message


async def stage_changes(
    ledger: Ledger, request: pb.StreamStageChangesRequest
) -> AsyncGenerator[pb.StreamStageChangesResponse]:
    """Runs until the caller cancels (or, with catch_up_only, until caught up)."""
    found = Violations()
    program_id = parse_program(request.program, "program", found)
    position = parse_position(request.after_position, found)
    kinds = parse_kinds(list(request.kinds), found)
    found.raise_if_any()
    await ledger.get_program(program_id, "program")
    while True:
        changes = await ledger.stage_changes(program_id, position, MAX_CHANGES_PER_READ, kinds)
        for entry in changes:
            yield _message(entry)
            position = entry.position
        if len(changes) < MAX_CHANGES_PER_READ:
            if request.catch_up_only:
                return
            await asyncio.sleep(POLL_SECONDS)
