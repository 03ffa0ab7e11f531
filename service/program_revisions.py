"""ListProgramRevisions (AIP-132, AIP-158): a program's revisions, paged, newest first unless
asked otherwise.

A page token is the direction ("d" newest first, "a" oldest first) and the revision the next
page starts at: revisions are numbered 1, 2, 3... with no gaps and never change, so the token
stays valid however many revisions are made meanwhile.
"""

from ledger.application import Ledger
from ledger.domain.errors import Violations
from ledger.domain.program import ProgramState
from ledger.outcomes import ProgramView
from ledger.program_history import ProgramRevision
from loyalty.v1 import ledger_pb2 as pb
from service import mapping
from service.names import parse_program

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
"""Revisions per page at most: each carries the program's whole settings."""
MAX_TOKEN_DIGITS = 18
NEWEST_FIRST = {"": True, "revision desc": True, "revision": False, "revision asc": False}
"""order_by (spaces collapsed) -> newest first?"""


async def list_program_revisions(
    ledger: Ledger, request: pb.ListProgramRevisionsRequest, deadline: float | None
) -> pb.ListProgramRevisionsResponse:
    violations = Violations()
    program_id = parse_program(request.parent, "parent", violations)
    if request.page_size < 0:
        violations.add("page_size", "must not be negative", reason="PAGE_SIZE_OUT_OF_RANGE")
    page_size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    newest_first = NEWEST_FIRST.get(" ".join(request.order_by.split()))
    if newest_first is None:
        violations.add(
            "order_by",
            'must be "revision desc" (the default) or "revision"',
            reason="ORDER_BY_INVALID",
        )
    start = _token(request.page_token, newest_first, violations)
    violations.raise_if_any()
    head, created_at = await ledger.program_head(program_id, "parent", deadline=deadline)
    if newest_first:
        last = min(start or head, head)
        first = max(last - page_size + 1, 1)
        following = first - 1
    else:
        first = start or 1
        last = min(first + page_size - 1, head)
        following = last + 1 if last < head else 0
    if first > last:
        return pb.ListProgramRevisionsResponse()
    found = await ledger.program_revisions(program_id, first, last, deadline=deadline)
    if newest_first:
        found.reverse()
    direction = "d" if newest_first else "a"
    return pb.ListProgramRevisionsResponse(
        revisions=[_revision(program_id, created_at, revision) for revision in found],
        next_page_token=f"{direction}{following}" if following else "",
    )


def _token(token: str, newest_first: bool | None, violations: Violations) -> int:
    """The revision a page token says to start at; 0 for no token."""
    if not token:
        return 0
    digits = token[1:]
    if (
        newest_first is not None
        and token[0] == ("d" if newest_first else "a")
        and digits.isascii()
        and digits.isdigit()
        and len(digits) <= MAX_TOKEN_DIGITS
        and int(digits) > 0
    ):
        return int(digits)
    violations.add(
        "page_token",
        "is not a token this service returned for this order_by",
        reason="PAGE_TOKEN_INVALID",
    )
    return 0


def _revision(program_id: str, created_at: str, revision: ProgramRevision) -> pb.ProgramRevision:
    view = ProgramView(
        ProgramState(revision.revision, program_id, revision.settings),
        created_at,
        revision.recorded_at,
    )
    return pb.ProgramRevision(
        revision=revision.revision,
        program=mapping.program(view),
        update_time=mapping.timestamp(revision.recorded_at),
        actor=revision.actor,
        changed_paths=revision.changed_paths,
        request_id=revision.request_id,
    )
