"""SimulateProgramChange: the request checked at the call (every bad field named, an unknown
program or revision NOT_FOUND), then a long-running operation started (service/simulations.py).

The proposal is the one UpdateProgram would make: `proposed_program` merged over the current
settings by `update_mask`, validated as UpdateProgram validates; or one of the program's own
revisions, by number.
"""

from datetime import datetime

from google.longrunning import operations_pb2

from ledger.application import Ledger
from ledger.audit.what_if import Proposal
from ledger.domain.errors import InvalidArgument, NotFound, Violations
from ledger.domain.program_mask import apply_mask, check_mask
from ledger.domain.settings import ProgramSettings
from loyalty.v1 import ledger_pb2 as pb
from service import mapping
from service.names import parse_program
from service.program_updates import masked
from service.simulations import Simulations

PROPOSAL_FIELD = "proposed_program"


async def start_simulation(
    ledger: Ledger,
    simulations: Simulations,
    request: pb.SimulateProgramChangeRequest,
    deadline: float | None,
) -> operations_pb2.Operation:
    found = Violations()
    program_id = parse_program(request.program, "program", found)
    period = _period(request, found)
    proposed = _proposed_settings(request, found)
    found.raise_if_any()
    assert period is not None
    current = await ledger.get_program(program_id, "program", deadline=deadline)
    proposal: Proposal
    if proposed is None:
        if request.revision > current.state.revision:
            raise NotFound(
                f"the program is at revision {current.state.revision}",
                field_name="revision",
                reason="REVISION_NOT_FOUND",
            )
        proposal = request.revision
    else:
        proposal = _merged(current.state.settings, proposed, tuple(request.update_mask.paths))
    return simulations.start(program_id, proposal, *period).operation()


def _period(
    request: pb.SimulateProgramChangeRequest, found: Violations
) -> tuple[datetime, datetime] | None:
    moments: list[datetime] = []
    stamps = (
        ("period_start_time", request.HasField("period_start_time"), request.period_start_time),
        ("period_end_time", request.HasField("period_end_time"), request.period_end_time),
    )
    for name, given, stamp in stamps:
        if not given:
            found.add(name, "is required", reason="FIELD_REQUIRED")
            continue
        try:
            moments.append(mapping.datetime_of(stamp, name))
        except InvalidArgument as error:
            found.items.extend(error.violations)
    if len(moments) != len(stamps):
        return None
    start, end = moments
    if end <= start:
        found.add(
            "period_end_time",
            "must be after period_start_time (the period is [start, end))",
            reason="PERIOD_END_NOT_AFTER_START",
        )
        return None
    return start, end


def _proposed_settings(
    request: pb.SimulateProgramChangeRequest, found: Violations
) -> ProgramSettings | None:
    """The settings the request proposes, or None when it names a revision instead."""
    given = request.HasField("proposed_program")
    if request.revision < 0:
        found.add("revision", "must not be negative", reason="REVISION_NEGATIVE")
    if given == bool(request.revision):
        found.add(
            PROPOSAL_FIELD if not given else "revision",
            "give either proposed_program or revision, not both" if given else "is required",
            reason="PROPOSAL_AMBIGUOUS" if given else "FIELD_REQUIRED",
        )
        return None
    if not given:
        if request.update_mask.paths:
            found.add(
                "update_mask", "applies to proposed_program only", reason="PROPOSAL_AMBIGUOUS"
            )
        return None
    paths = tuple(request.update_mask.paths)
    decoding = Violations()
    settings = mapping.program_settings(request.proposed_program, PROPOSAL_FIELD, decoding)
    # As UpdateProgram: bad values of settings the mask leaves out are ignored.
    found.items.extend(
        each for each in decoding.items if masked(each.field, paths, f"{PROPOSAL_FIELD}.")
    )
    check_mask(paths, found)
    return settings


def _merged(
    current: ProgramSettings, proposed: ProgramSettings, paths: tuple[str, ...]
) -> ProgramSettings:
    settings = apply_mask(current, proposed, paths)
    violations = Violations()
    settings.validate(violations, PROPOSAL_FIELD)
    violations.raise_if_any()
    return settings
