"""A program's own stream: its settings through time.

Program changes are events in the program's own stream, so the rules in force at any time
can be audited; earn events also name the program revision that computed them.
"""

from dataclasses import dataclass

from ledger.domain.commands import Command, CreateProgram, UpdateProgram, validate
from ledger.domain.errors import AlreadyExists, Conflict, NotFound, Violations
from ledger.domain.events import Event, ProgramCreated, ProgramUpdated
from ledger.domain.program_mask import apply_mask, replaces_all
from ledger.domain.settings import ProgramSettings


@dataclass(frozen=True)
class ProgramState:
    """The program stream folded: its current settings and revision (0 = does not exist)."""

    revision: int = 0
    program_id: str = ""
    settings: ProgramSettings = ProgramSettings()

    @property
    def exists(self) -> bool:
        return self.revision > 0


def evolve(state: ProgramState, event: Event) -> ProgramState:
    match event:
        case ProgramCreated():
            return ProgramState(state.revision + 1, event.program_id, event.settings)
        case ProgramUpdated():
            return ProgramState(state.revision + 1, state.program_id, event.settings)
    raise AssertionError(f"program streams do not hold {type(event).__name__}")


def decide(state: ProgramState, command: Command) -> list[Event]:
    validate(command)
    match command:
        case CreateProgram():
            if state.exists:
                raise AlreadyExists(
                    f"program {command.program_id} exists", reason="PROGRAM_ALREADY_EXISTS"
                )
            return [ProgramCreated(command.program_id, command.settings)]
        case UpdateProgram():
            if not state.exists:
                raise NotFound(
                    "no such program", field_name="program.name", reason="PROGRAM_NOT_FOUND"
                )
            if command.expected_revision and command.expected_revision != state.revision:
                raise Conflict(
                    f"program is at revision {state.revision}, not {command.expected_revision}",
                    reason="REVISION_MISMATCH",
                    current_revision=str(state.revision),
                )
            settings = updated_settings(state.settings, command)
            if settings == state.settings:
                return []  # nothing changes: no revision that would say it did
            return [ProgramUpdated(settings)]
    raise AssertionError(f"not a program command: {command!r}")


def updated_settings(current: ProgramSettings, command: UpdateProgram) -> ProgramSettings:
    """The settings `command` leaves the program with; InvalidArgument naming every bad
    setting of the result (the command's own fields validated already)."""
    settings = apply_mask(current, command.settings, command.update_mask)
    if not replaces_all(command.update_mask):
        violations = Violations()
        settings.validate(violations)
        violations.raise_if_any()
    return settings


def check_invariants(state: ProgramState) -> None:
    assert state.exists == bool(state.program_id), state
