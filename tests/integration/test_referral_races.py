"""Friends of one referrer enrolling at once on both shards of a ledger over PostgreSQL: the
shards race for the referrer's stream, and a shard that loses drops what it had cached (the
program too) while the other is still reading for its next batch. Every friend enrols, and
the program is never taken for missing."""

import asyncio
import uuid

from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, Enroll
from ledger.domain.decisions import Target
from ledger.domain.referral_settings import ReferralSettings
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.requests import Request

FRIENDS = 300
CALLERS = 64


async def _enrol(ledger: Ledger, program_id: str, member_id: str, code: str = "") -> str:
    outcome = await ledger.execute(
        Request(
            Target(program_id, member_id),
            Enroll(program_id, member_id, referral_code=code),
            uuid.uuid4().hex,
        )
    )
    return outcome.accounts[member_id].referral_code


async def test_friends_enrolling_on_both_shards_at_once_all_enrol(ledger: Ledger) -> None:
    program_id = f"race-{uuid.uuid4().hex[:8]}"
    settings = ProgramSettings(
        earn_rates=(EarnRate("USD", 1),),
        referrals=ReferralSettings(enabled=True, referrer_points=10),
    )
    await ledger.execute(
        Request(Target(program_id), CreateProgram(program_id, settings), uuid.uuid4().hex)
    )
    code = await _enrol(ledger, program_id, "referrer")
    waiting = [f"friend-{index}" for index in range(FRIENDS)]

    async def caller() -> None:
        while waiting:
            await _enrol(ledger, program_id, waiting.pop(), code)

    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    listed = await ledger.list_referrals(program_id, "referrer")
    assert len(listed) == FRIENDS and {view.status for view in listed} == {"pending"}
    assert ledger.stats.conflicts > 0, "the shards never raced: the test shows nothing"
