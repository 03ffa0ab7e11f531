"""Refusing a bad CreateProgram or UpdateProgram with every bad setting named at once.

Some settings are checked while decoding the request (an unknown currency needs the ISO 4217
table, outside the domain), the rest by the domain; a caller fixing a request should not
find the second kind only after fixing the first.
"""

from ledger.application import Ledger
from ledger.domain import commands as cmd
from ledger.domain.errors import FieldViolation, InvalidArgument, NotFound, Violations
from ledger.domain.program import updated_settings
from ledger.domain.program_mask import OUTPUT_ONLY, replaces_all
from ledger.requests import request_id_problem

SETTINGS_PREFIX = "program."
MASK_FIELD = "update_mask"


def refuse_bad_creation(command: cmd.CreateProgram, decoding: Violations, request_id: str) -> None:
    """Raises InvalidArgument naming `decoding`'s findings with the request id's and the
    domain's, if any (without findings, the ledger's own checks name the others)."""
    if decoding.items:
        _check_request_id(request_id, decoding)
        more = Violations()
        command.validate(more)
        decoding.add_unless_named(more.items)
        decoding.raise_if_any()


async def refuse_bad_update(
    ledger: Ledger,
    program_id: str,
    command: cmd.UpdateProgram,
    found: Violations,
    request_id: str,
    deadline: float | None,
) -> None:
    """Raises InvalidArgument naming what reading the request `found` wrong (its name, and
    settings the update takes from the request: the others are ignored, AIP-134) with every
    other bad field: the request id, the command's own, and the settings the update would
    leave the program with (`program_id` "" for a name found wrong)."""
    violations = Violations([v for v in found.items if masked(v.field, command.update_mask)])
    _check_request_id(request_id, violations)
    more = Violations()
    command.validate(more)
    violations.add_unless_named(more.items)
    if not violations.items:
        return  # the ledger checks the merged settings as it decides
    mask_readable = not any(v.field.startswith(MASK_FIELD) for v in violations.items)
    if program_id and mask_readable and not replaces_all(command.update_mask):
        violations.add_unless_named(await _merged(ledger, program_id, command, deadline))
    violations.raise_if_any()


def _check_request_id(request_id: str, violations: Violations) -> None:
    problem = request_id_problem(request_id)
    if problem is not None:
        violations.add("request_id", problem, reason="REQUEST_ID_INVALID")


async def _merged(
    ledger: Ledger, program_id: str, command: cmd.UpdateProgram, deadline: float | None
) -> list[FieldViolation]:
    """What the domain would find wrong in the current settings merged with the update's."""
    try:
        current = await ledger.get_program(program_id, "program.name", deadline=deadline)
        updated_settings(current.state.settings, command)
    except NotFound:
        return []  # nothing to merge with: the request's own faults are the answer
    except InvalidArgument as error:
        return error.violations
    return []


def masked(field_name: str, paths: tuple[str, ...], prefix: str = SETTINGS_PREFIX) -> bool:
    """Whether the request field `field_name` (program.a.b[0].c, its settings message
    named by `prefix`) is one the mask takes."""
    if replaces_all(paths) or not field_name.startswith(prefix):
        return True
    named = field_name.removeprefix(prefix)
    if named in OUTPUT_ONLY:
        return True  # program.name: which program, whatever the mask
    return any(
        named == path or named.startswith((f"{path}.", f"{path}[")) or path.startswith(f"{named}.")
        for path in paths
    )
