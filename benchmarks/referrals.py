"""A purchase that completes a referral against a plain EarnPoints, alternated in one ledger.

Friends of a few referrers enrolled with their codes and made a qualifying purchase; the
clock (the ledger's own, which the benchmark moves) then passes the return window, so each
friend's next purchase first credits the referral: one decision that reads the referrer's
account too and appends to both (the credits, the released pending points, the purchase).
Measured in process, through Ledger.execute with group commit, so the ratio is the ledger's
own cost without gRPC's, which would dilute it; callers run concurrently as under load.
"""

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ledger import bootstrap
from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, EarnPoints, Enroll, RecordPurchase
from ledger.domain.decisions import Target
from ledger.domain.referral_settings import ReferralSettings
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.requests import Request

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure, Sizes

REFERRERS = 100
WINDOW_DAYS = 14


class _Clock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current


async def _run(ledger: Ledger, requests: list[Request], callers: int) -> float:
    """Calls per second of `requests`, `callers` at a time."""
    queue = list(reversed(requests))

    async def caller() -> None:
        while queue:
            await ledger.execute(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return len(requests) / (time.perf_counter() - started)


def _request(program_id: str, member_id: str, command: object) -> Request:
    assert isinstance(command, (Enroll, EarnPoints, RecordPurchase))
    return Request(Target(program_id, member_id), command, uuid.uuid4().hex)


async def _measure(database_url: str, sizes: "Sizes") -> tuple[list[float], list[float]]:
    clock = _Clock()
    async with bootstrap.postgres_ledger(database_url, clock, shards=2) as ledger:
        program_id = f"refbench-{uuid.uuid4().hex[:8]}"
        settings = ProgramSettings(
            earn_rates=(EarnRate("USD", 1),),
            return_window_days=WINDOW_DAYS,
            referrals=ReferralSettings(enabled=True, referrer_points=500, friend_points=100),
        )
        await ledger.execute(
            Request(Target(program_id), CreateProgram(program_id, settings), uuid.uuid4().hex)
        )
        referrers = [f"referrer-{index}" for index in range(REFERRERS)]
        codes = []
        for referrer in referrers:
            enrolled = await ledger.execute(
                _request(program_id, referrer, Enroll(program_id, referrer))
            )
            codes.append(enrolled.accounts[referrer].referral_code)
        per_run = sizes.accounts
        plain = [f"plain-{index}" for index in range(per_run)]
        friends = [
            [f"friend-{run}-{index}" for index in range(per_run)] for run in range(sizes.repeats)
        ]
        setup = [_request(program_id, m, Enroll(program_id, m)) for m in plain]
        for run in friends:
            setup += [
                _request(
                    program_id,
                    friend,
                    Enroll(program_id, friend, referral_code=codes[index % REFERRERS]),
                )
                for index, friend in enumerate(run)
            ]
        await _run(ledger, setup, sizes.callers)
        qualifying = [
            _request(program_id, friend, RecordPurchase(f"first-{friend}", 5_000, "USD", 2))
            for run in friends
            for friend in run
        ]
        await _run(ledger, qualifying, sizes.callers)
        clock.current += timedelta(days=WINDOW_DAYS, seconds=1)
        earn_rates, referral_rates = [], []
        for run in friends:
            earns = [_request(program_id, m, EarnPoints(10, "bench")) for m in plain]
            earn_rates.append(await _run(ledger, earns, sizes.callers))
            completing = [
                _request(program_id, friend, RecordPurchase(f"next-{friend}", 2_000, "USD", 2))
                for friend in run
            ]
            referral_rates.append(await _run(ledger, completing, sizes.callers))
        credited = await ledger.list_referrals(program_id, referrers[0])
        assert credited and all(view.status == "credited" for view in credited), credited
        return earn_rates, referral_rates


def bench_referral(database_url: str, sizes: "Sizes", figure: type["Figure"]) -> "Figure":
    earn_rates, referral_rates = asyncio.run(_measure(database_url, sizes))
    earn = statistics.median(earn_rates)
    referral = statistics.median(referral_rates)
    rates = {
        "earn": " / ".join(f"{rate:,.0f}" for rate in earn_rates),
        "referral": " / ".join(f"{rate:,.0f}" for rate in referral_rates),
    }
    return figure(
        "A purchase that completes a referral vs plain EarnPoints, in process",
        referral,
        earn,
        "calls/s",
        ">= 0.2x",
        referral >= 0.2 * earn if earn else False,
        f"{sizes.callers} concurrent callers of Ledger.execute; each purchase credits its"
        f" friend's referral (reading and appending to one of {REFERRERS} referrers' accounts)"
        f" and releases the qualifying order's points; medians of {sizes.repeats} alternated"
        f" runs of {sizes.accounts} calls (earn {rates['earn']}, referral {rates['referral']}"
        " calls/s)",
    )
