"""Whom `serve` logs in to PostgreSQL as: a member of loyalty_ledger_app and nothing more
(README "Database roles"). A superuser can turn the append-only triggers off and RESET ROLE
out of any LEDGER_DB_ROLE; a member of the tables' owner can disable the triggers or rewrite
the state rows. So `serve` refuses such a login, unless LEDGER_ALLOW_PRIVILEGED_LOGIN says
this is development, and then says so in its log at every start."""

import asyncio

import structlog

from ledger import bootstrap
from service.config import Settings

log = structlog.get_logger(__name__)


class PrivilegedLogin(Exception):
    """The login may do more than the service needs, and nothing allows it: one line for the
    operator, naming what is wrong and the way out."""


def judge_login(problems: list[str], settings: Settings) -> None:
    """Raises PrivilegedLogin for a privileged login, unless the settings allow it."""
    if not problems:
        return
    if not settings.allow_privileged_login:
        raise PrivilegedLogin(
            f"refusing to serve: the database login {' and '.join(problems)}; log in as a"
            " member of loyalty_ledger_app only and migrate with LEDGER_OWNER_DATABASE_URL"
            " (README, Database roles), or set LEDGER_ALLOW_PRIVILEGED_LOGIN=true for"
            " development"
        )
    log.warning(
        "database_login_privileged_allowed",
        problems=problems,
        note="LEDGER_ALLOW_PRIVILEGED_LOGIN=true: DEVELOPMENT ONLY. This login can rewrite"
        " the ledger and escape the application role; never run it so in production",
    )


def login_judged(database_url: str, settings: Settings) -> bool:
    """True once the login is judged (PrivilegedLogin if refused); False while the database
    does not answer (the server then starts NOT_SERVING and judges it later)."""
    try:
        problems = bootstrap.privileged_login(database_url)
    except bootstrap.DatabaseError:
        return False
    judge_login(problems, settings)
    return True


async def judge_login_once_reachable(
    database_url: str, settings: Settings, interval_seconds: float
) -> None:
    """For a server started while its database was unreachable: judges the login as soon as
    the database answers, so a privileged one is refused then rather than never."""
    while True:
        if await asyncio.to_thread(login_judged, database_url, settings):
            return
        await asyncio.sleep(interval_seconds)
