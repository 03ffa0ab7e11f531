"""Who may call the service: the callers file, and its reloading without a restart.

The file (TOML; README "Authentication") names each caller with the scopes it holds, the
programs it may touch, and how it proves who it is: bearer tokens, stored only as SHA-256
hashes (a token is 32 random bytes, so a plain hash cannot be reversed by guessing), each with
an optional expiry, and/or the names its client certificate carries under mutual TLS. Several
tokens per caller let an operator rotate one: add the new hash, hand out the new token, remove
the old hash; the service re-reads the file when it changes, with no restart. A file that no
longer reads keeps the callers read before it (logged), so a typo never locks every caller out.
"""

import hashlib
import re
import secrets
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from service.limits import CallerLimits

log = structlog.get_logger(__name__)

SCOPES = frozenset({"read", "write", "redeem", "transfer", "admin", "import", "audit"})
ALL_PROGRAMS = "*"
_NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")
_PROGRAM = re.compile(r"[a-z][a-z0-9-]{0,63}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CALLER_KEYS = frozenset(
    {
        "name",
        "scopes",
        "programs",
        "tokens",
        "certificate_names",
        "act_on_behalf",
        "rate_per_second",
        "burst",
        "max_concurrent_calls",
    }
)
MAX_RATE_PER_SECOND = 1_000_000
MAX_CONCURRENT_CALLS = 10_000
_TOKEN_KEYS = frozenset({"sha256", "expires"})
RELOAD_CHECK_SECONDS = 1.0
"""How often, at most, the file's modification time is looked at (on calls, not a timer)."""


class BadCallers(ValueError):
    """The callers file cannot be used; every problem is listed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Caller:
    name: str
    scopes: frozenset[str]
    programs: frozenset[str]
    """Program ids it may touch, or {ALL_PROGRAMS}."""
    act_on_behalf: bool = False
    """May name someone else as the actor of its requests (loyalty-on-behalf-of)."""
    limits: CallerLimits = field(default_factory=CallerLimits)
    """Its rate and calls in flight (service/limits.py)."""

    def may_touch(self, program_id: str) -> bool:
        return ALL_PROGRAMS in self.programs or program_id in self.programs

    @property
    def every_program(self) -> bool:
        return ALL_PROGRAMS in self.programs


@dataclass(frozen=True)
class Token:
    caller: Caller
    expires: datetime | None


@dataclass(frozen=True)
class Callers:
    tokens: Mapping[str, Token]
    """By the hex SHA-256 of the token."""
    certificates: Mapping[str, Caller]
    """By a name a client certificate carries (common name or DNS subject alternative name)."""

    def by_token(self, token: str) -> Token | None:
        return self.tokens.get(token_hash(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """32 random bytes, URL-safe: what `loyalty-ledger new-token` hands out."""
    return secrets.token_urlsafe(32)


def parse(text: str, source: str) -> Callers:
    """The callers `text` describes; BadCallers naming every problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BadCallers([f"{source}: not TOML: {error}"]) from None
    problems: list[str] = []
    unknown = document.keys() - {"callers"}
    if unknown:
        problems.append(f"{source}: unknown keys {sorted(unknown)}")
    entries = document.get("callers", [])
    if not isinstance(entries, list) or not entries:
        problems.append(f"{source}: [[callers]] lists no caller")
        entries = []
    tokens: dict[str, Token] = {}
    certificates: dict[str, Caller] = {}
    names: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{source}: callers[{index}]"
        caller = _caller(entry, where, problems)
        if caller is None:
            continue
        if caller.name in names:
            problems.append(f"{where}.name: {caller.name!r} is listed twice")
        names.add(caller.name)
        for position, raw in enumerate(entry.get("tokens", [])):
            token = _token(raw, caller, f"{where}.tokens[{position}]", problems)
            if token is None:
                continue
            digest = raw["sha256"]
            if digest in tokens:
                problems.append(f"{where}.tokens[{position}].sha256: given to two callers")
            tokens[digest] = token
        for position, certificate_name in enumerate(entry.get("certificate_names", [])):
            if not isinstance(certificate_name, str) or not certificate_name:
                problems.append(f"{where}.certificate_names[{position}]: must be a name")
            elif certificate_name in certificates:
                problems.append(f"{where}.certificate_names[{position}]: given to two callers")
            else:
                certificates[certificate_name] = caller
    if problems:
        raise BadCallers(problems)
    return Callers(tokens, certificates)


def _caller(entry: Any, where: str, problems: list[str]) -> Caller | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a table")
        return None
    found = len(problems)
    unknown = entry.keys() - _CALLER_KEYS
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"{where}.name: must match {_NAME.pattern}")
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not scopes or not set(scopes) <= SCOPES:
        problems.append(f"{where}.scopes: must list some of {sorted(SCOPES)}")
    programs = entry.get("programs")
    if (
        not isinstance(programs, list)
        or not programs
        or not all(
            p == ALL_PROGRAMS or (isinstance(p, str) and _PROGRAM.fullmatch(p)) for p in programs
        )
    ):
        problems.append(f'{where}.programs: must list program ids, or "{ALL_PROGRAMS}" for all')
    act_on_behalf = entry.get("act_on_behalf", False)
    if not isinstance(act_on_behalf, bool):
        problems.append(f"{where}.act_on_behalf: must be true or false")
    if not entry.get("tokens") and not entry.get("certificate_names"):
        problems.append(f"{where}: needs tokens or certificate_names to prove who it is")
    limits = _limits(entry, where, problems)
    if len(problems) > found:
        return None
    assert isinstance(name, str) and isinstance(scopes, list) and isinstance(programs, list)
    return Caller(name, frozenset(scopes), frozenset(programs), act_on_behalf, limits)


def _limits(entry: dict[str, Any], where: str, problems: list[str]) -> CallerLimits:
    defaults = CallerLimits()
    rate = entry.get("rate_per_second", defaults.rate_per_second)
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not 0 < rate <= MAX_RATE_PER_SECOND
    ):
        problems.append(
            f"{where}.rate_per_second: must be a number above 0, at most {MAX_RATE_PER_SECOND:,}"
        )
        rate = defaults.rate_per_second
    counts = {}
    for key, default, most in (
        ("burst", defaults.burst, MAX_RATE_PER_SECOND),
        ("max_concurrent_calls", defaults.max_concurrent_calls, MAX_CONCURRENT_CALLS),
    ):
        value = entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            problems.append(f"{where}.{key}: must be a whole number from 1 to {most:,}")
            value = default
        counts[key] = value
    return CallerLimits(float(rate), counts["burst"], counts["max_concurrent_calls"])


def _token(raw: Any, caller: Caller, where: str, problems: list[str]) -> Token | None:
    if not isinstance(raw, dict) or raw.keys() - _TOKEN_KEYS:
        problems.append(f"{where}: must be a table of sha256 and, optionally, expires")
        return None
    digest = raw.get("sha256")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        problems.append(f"{where}.sha256: must be 64 lowercase hex digits (new-token prints it)")
        return None
    expires = raw.get("expires")
    if expires is not None and not (isinstance(expires, datetime) and expires.tzinfo):
        problems.append(
            f"{where}.expires: must be a date and time with its offset (2027-01-31T00:00:00Z)"
        )
        return None
    return Token(caller, expires.astimezone(UTC) if expires else None)


class CallerRegistry:
    """The callers in force: read from a file (re-read when it changes) or from a text given
    once (the environment, which a restart changes)."""

    def __init__(
        self,
        path: Path | None = None,
        text: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert (path is None) != (text is None), "a file or a text"
        self._path = path
        self._clock = clock
        self._checked_at = clock()
        if path is not None:
            text = path.read_text()
            self._callers = parse(text, str(path))
        else:
            assert text is not None
            self._callers = parse(text, "LEDGER_CALLERS")
        self._text = text

    def current(self) -> Callers:
        if self._path is not None and self._clock() - self._checked_at >= RELOAD_CHECK_SECONDS:
            self._checked_at = self._clock()
            self._reload(self._path)
        return self._callers

    def _reload(self, path: Path) -> None:
        # The text itself is compared, not the file's time: two writes within one tick of the
        # file system's clock share a time, and a Secret is swapped in through a symlink.
        try:
            text = path.read_text()
        except OSError as error:
            log.error("callers_file_unreadable", path=str(path), error=str(error))
            return
        if text == self._text:
            return
        self._text = text  # a broken version is logged once, not at every check
        try:
            self._callers = parse(text, str(path))
        except BadCallers as error:
            log.error("callers_file_refused_kept_previous", path=str(path), problems=error.problems)
            return
        log.info("callers_reloaded", path=str(path), tokens=len(self._callers.tokens))
