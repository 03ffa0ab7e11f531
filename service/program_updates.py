"""Refusing a bad CreateProgram or UpdateProgram with every bad setting named at once.

Some settings are checked while decoding the request (an unknown currency needs the ISO 4217
table, outside the domain), the rest by the domain; a caller fixing a request should not
find the second kind only after fixing the first.
"""

from ledger.application import Ledger
from ledger.domain import commands as cmd
from ledger.domain.errors import InvalidArgument, Violations
from ledger.domain.program import updated_settings
from ledger.domain.program_mask import replaces_all

SETTINGS_PREFIX = "program."


def refuse_bad_creation(command: cmd.CreateProgram, decoding: Violations) -> None:
    """Raises InvalidArgument naming `decoding`'s findings and the domain's, if any."""
    if decoding.items:
        command.validate(decoding)
        decoding.raise_if_any()


async def refuse_bad_update(
    ledger: Ledger,
    program_id: str,
    command: cmd.UpdateProgram,
    decoding: Violations,
    deadline: float | None,
) -> None:
    """Raises InvalidArgument naming `decoding`'s findings in the settings the update takes
    from the request (the others are ignored, AIP-134) with every other bad setting."""
    kept = [found for found in decoding.items if masked(found.field, command.update_mask)]
    if not kept:
        return
    violations = Violations(kept)
    command.validate(violations)
    if len(violations.items) == len(kept) and not replaces_all(command.update_mask):
        # The settings merged with the current ones: what the domain would check.
        current = await ledger.get_program(program_id, "program.name", deadline=deadline)
        try:
            updated_settings(current.state.settings, command)
        except InvalidArgument as error:
            violations.items.extend(error.violations)
    violations.raise_if_any()


def masked(field_name: str, paths: tuple[str, ...], prefix: str = SETTINGS_PREFIX) -> bool:
    """Whether the request field `field_name` (program.a.b[0].c, its settings message
    named by `prefix`) is one the mask takes."""
    if replaces_all(paths) or not field_name.startswith(prefix):
        return True
    named = field_name.removeprefix(prefix)
    return any(
        named == path or named.startswith((f"{path}.", f"{path}[")) or path.startswith(f"{named}.")
        for path in paths
    )
