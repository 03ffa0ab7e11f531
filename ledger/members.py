"""The translation between the member ids brands use and the pseudonymous keys the log holds.

Every command and read names a member by the brand's id; the ledger turns it into the
member's key before anything is decided, hashed or stored, so the log, the state rows, the
stored answers and the views hold keys only (README "Personal data"). The link lives in one
erasable table (ledger.members, through the event log's port); forgetting a member deletes
it, in the transaction that appends MemberForgotten.

Links are cached (a hot account costs no round trip). A cached link may outlive a member
forgotten by another process: the stream it leads to then answers NOT_FOUND (its state says
forgotten), and the caller drops the link and looks again (`Translation.from_cache`).
"""

from collections import OrderedDict
from dataclasses import replace
from typing import NamedTuple

from ledger.domain import frozen
from ledger.domain.commands import (
    AdjustPoints,
    ChangeTier,
    Command,
    Enroll,
    GrantBonus,
    ImportHistory,
    TransferPoints,
)
from ledger.domain.decisions import Target
from ledger.domain.errors import InvalidArgument, NotFound, Violations, refuse
from ledger.domain.patterns import MEMBER_ID_PATTERN
from ledger.eventlog.port import EventLog
from ledger.ids import new_member_key
from ledger.outcomes import AccountView, Outcome
from ledger.requests import Request

MAX_CACHED_LINKS = 100_000
"""Member links kept in memory (least recently used go first): about 200 bytes each."""
MIN_ID_LENGTH_CHECKED = 6
"""Member ids at least this long are looked for in the caller's free text (shorter ones
would match by chance: "req-1" holds the id "1")."""
MAX_LINK_ATTEMPTS = 3
"""Keys proposed for one new member before giving up (a clash of 130 random bits is a
practical impossibility; the bound keeps a damaged table from looping)."""

_CREATES_ACCOUNTS = (Enroll, ImportHistory)


class Translation(NamedTuple):
    """Built for every command (a tuple: a frozen dataclass's per-field setattr costs more)."""

    request: Request
    """The request as the ledger decides it: member ids replaced by keys."""
    ids: dict[str, str]
    """Member key -> the caller's member id, for the answer."""
    from_cache: bool
    """Some key came from the cache (and may be stale)."""


def _check_id(member_id: str, field_name: str) -> None:
    """A key is no member id: the commands' own checks accept both shapes (they validate
    translated commands too), so the caller's ids are held to the id's shape here."""
    if not MEMBER_ID_PATTERN.fullmatch(member_id):
        raise InvalidArgument.of(
            field_name, f"must match {MEMBER_ID_PATTERN.pattern}", reason="MEMBER_ID_MALFORMED"
        )


def check_free_text(
    request_id: str | None, member_id: str, note: str = "", found: Violations | None = None
) -> None:
    """The request id and a note are hash-chained into the log forever, beyond the reach of
    ForgetMember: one that holds the member's id (an idempotency key made of an email) is
    refused, so the id cannot leak into the log that way. Callers that split one request into
    several (an import, one share per account) check every share before any is appended,
    adding what they find to `found`."""
    if len(member_id) < MIN_ID_LENGTH_CHECKED:
        return
    if request_id and member_id in request_id:
        refuse(
            found,
            "request_id",
            "must not hold the member id (it is kept in the log forever)",
            reason="MEMBER_ID_IN_FREE_TEXT",
        )
    if member_id in note:
        refuse(
            found,
            "note",
            "must not hold the member id (it is kept in the log forever)",
            reason="MEMBER_ID_IN_FREE_TEXT",
        )


def _addressed(request: Request, target: Target, command: Command) -> Request:
    return Request(
        target, command, request.request_id, request.actor, request.trace_id, request.deadline
    )


def not_found(field_name: str) -> NotFound:
    return NotFound("no such account", field_name=field_name, reason="ACCOUNT_NOT_FOUND")


class MemberKeys:
    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._links: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def key(
        self, program_id: str, member_id: str, field_name: str, *, deadline: float | None
    ) -> str:
        """The member's key; NotFound naming `field_name` if the id is not linked."""
        cached = self._cached(program_id, member_id)
        if cached is not None:  # the hot path: every GetAccount of a member seen before
            return cached
        found = await self._resolve(program_id, [member_id], create=False, deadline=deadline)
        if member_id not in found:
            raise not_found(field_name)
        return found[member_id][0]

    async def keys(
        self, program_id: str, member_ids: list[str], *, deadline: float | None
    ) -> dict[str, str]:
        """By member id, the key of each id that is linked (one round trip for those this
        process does not know)."""
        found = await self._resolve(program_id, member_ids, create=False, deadline=deadline)
        return {member_id: key for member_id, (key, _) in found.items()}

    async def translate(self, request: Request, *, fresh: bool = False) -> Translation:
        """`request` with keys for member ids. Enrolment and import link an id seen for the
        first time to a new key; any other command naming an unlinked id is NOT_FOUND.
        `fresh`: look every link up in the log, not in the cache."""
        target, command = request.target, request.command
        if target.member_id is None:
            return Translation(request, {}, False)
        _check_id(
            target.member_id, "member_id" if isinstance(command, Enroll) else command.account_field
        )
        check_free_text(
            request.request_id,
            target.member_id,
            command.note if isinstance(command, (AdjustPoints, GrantBonus, ChangeTier)) else "",
        )
        if not fresh and not isinstance(command, (TransferPoints, *_CREATES_ACCOUNTS)):
            # The hot path: one account whose link this process knows.
            key = self._cached(target.program_id, target.member_id)
            if key is not None:
                return Translation(
                    _addressed(request, Target(target.program_id, key), command),
                    {key: target.member_id},
                    True,
                )
        if isinstance(command, TransferPoints):
            _check_id(command.destination_member_id, "destination_account")
        if fresh:
            self.drop(target.program_id, target.member_id)
        wanted = [target.member_id]
        if isinstance(command, TransferPoints):
            if fresh:
                self.drop(target.program_id, command.destination_member_id)
            wanted.append(command.destination_member_id)
        found = await self._resolve(
            target.program_id,
            wanted,
            create=isinstance(command, _CREATES_ACCOUNTS),
            deadline=request.deadline,
            fingerprint=command.fingerprint if isinstance(command, Enroll) else "",
        )
        if target.member_id not in found:
            raise not_found(command.account_field)
        key = found[target.member_id][0]
        if isinstance(command, TransferPoints):
            if command.destination_member_id not in found:
                raise not_found("destination_account")
            command = replace(
                command, destination_member_id=found[command.destination_member_id][0]
            )
        elif isinstance(command, Enroll) and command.referral_code:
            command = await self._referred(target.program_id, command, key, request.deadline)
        elif isinstance(command, Enroll):
            command = replace(command, member_id=key, fingerprint="")
        elif isinstance(command, ImportHistory):
            command = replace(command, member_id=key)
        return Translation(
            _addressed(request, Target(target.program_id, key), command),
            {link[0]: member_id for member_id, link in found.items()},
            any(link[1] for link in found.values()),
        )

    async def _referred(
        self, program_id: str, command: Enroll, key: str, deadline: float | None
    ) -> Enroll:
        """The enrolment with the referrer its code names (README "Referrals"): the
        referrer's key ("" for a code nobody holds), and whether both gave one fingerprint.
        The fingerprint itself stays in the member link only."""
        found = await self._log.member_by_referral_code(
            program_id, command.referral_code, deadline=deadline
        )
        referrer_key, referrer_fingerprint = found if found is not None else ("", "")
        same = bool(command.fingerprint) and command.fingerprint == referrer_fingerprint
        return replace(
            command,
            member_id=key,
            fingerprint="",
            referrer_key=referrer_key,
            self_referral=same or referrer_key == key,
        )

    def answer(self, outcome: Outcome, translation: Translation) -> Outcome:
        """The outcome as the caller sees it: accounts named by their member ids."""
        if not outcome.accounts:
            return outcome
        accounts: dict[str, AccountView] = {}
        for key, view in outcome.accounts.items():
            member_id = translation.ids.get(key, key)
            # Copied for every command answered: frozen.replace, not dataclasses.replace
            # (docs/PERFORMANCE.md; tests/unit/test_frozen.py holds both classes to it).
            accounts[member_id] = frozen.replace(view, member_id=member_id)
        return frozen.replace(outcome, accounts=accounts)

    def _cached(self, program_id: str, member_id: str) -> str | None:
        key = self._links.get((program_id, member_id))
        if key is not None:
            self._links.move_to_end((program_id, member_id))
        return key

    def drop(self, program_id: str, member_id: str) -> None:
        self._links.pop((program_id, member_id), None)

    async def _resolve(
        self,
        program_id: str,
        member_ids: list[str],
        *,
        create: bool,
        deadline: float | None,
        fingerprint: str = "",
    ) -> dict[str, tuple[str, bool]]:
        """member id -> (key, came from the cache) for every linked (or, with `create`, newly
        linked) id."""
        found: dict[str, tuple[str, bool]] = {}
        missing = []
        for member_id in member_ids:
            key = self._cached(program_id, member_id)
            if key is None:
                missing.append(member_id)
            else:
                found[member_id] = (key, True)
        if not missing:
            return found
        keys = await self._log.member_keys(program_id, missing, deadline=deadline)
        if create:
            for _ in range(MAX_LINK_ATTEMPTS):
                unlinked = {m: new_member_key() for m in missing if m not in keys}
                if not unlinked:
                    break
                fingerprints = {member_id: fingerprint for member_id in unlinked if fingerprint}
                keys.update(
                    await self._log.link_members(
                        program_id, unlinked, fingerprints=fingerprints, deadline=deadline
                    )
                )
        for member_id, key in keys.items():
            found[member_id] = (key, False)
            self._links[(program_id, member_id)] = key
        while len(self._links) > MAX_CACHED_LINKS:
            self._links.popitem(last=False)
        return found
