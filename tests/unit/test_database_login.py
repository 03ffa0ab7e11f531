"""A server started while its database did not answer judges its login once it does: a
privileged one is refused then, not never (tests/e2e/test_serve_refusals.py covers the start)."""

import pytest

from ledger import bootstrap
from service.config import Settings
from service.database_login import PrivilegedLogin, judge_login_once_reachable

SUPERUSER = ["is a superuser (it can turn the append-only triggers off)"]
ANSWERED_LOOK = 3
"""The database refuses connections until this look."""


def _database_answering_on_the_third_look(
    monkeypatch: pytest.MonkeyPatch, problems: list[str]
) -> list[str]:
    looks: list[str] = []

    def privileged_login(url: str) -> list[str]:
        looks.append(url)
        if len(looks) < ANSWERED_LOOK:
            raise bootstrap.DatabaseError("connection refused")
        return problems

    monkeypatch.setattr(bootstrap, "privileged_login", privileged_login)
    return looks


async def test_a_superuser_is_refused_as_soon_as_the_database_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looks = _database_answering_on_the_third_look(monkeypatch, SUPERUSER)

    with pytest.raises(PrivilegedLogin) as refused:
        await judge_login_once_reachable("postgresql://db/ledger", Settings(), 0)

    assert len(looks) == ANSWERED_LOOK
    assert "LEDGER_ALLOW_PRIVILEGED_LOGIN" in str(refused.value)


@pytest.mark.parametrize(
    ("problems", "settings"),
    [([], Settings()), (SUPERUSER, Settings(allow_privileged_login=True))],
)
async def test_the_restricted_login_or_the_development_opt_out_serves_on(
    monkeypatch: pytest.MonkeyPatch, problems: list[str], settings: Settings
) -> None:
    looks = _database_answering_on_the_third_look(monkeypatch, problems)

    await judge_login_once_reachable("postgresql://db/ledger", settings, 0)

    assert len(looks) == ANSWERED_LOOK
