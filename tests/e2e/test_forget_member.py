"""Forgetting a member (README "Personal data"), tried as a brand would: a real service process
whose log output is kept, a member whose id is an email address, every kind of write with
stored answers, then ForgetMember. Afterwards the id is nowhere: not in any table, not in the
service's output, not in the event feed other services read, not in the audit's report; the
audit passes and the program's totals are what they were."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from psycopg import sql

from ledger.store.embedded import service_login_url
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from tests.conftest import Api, create_program, request_id
from tests.e2e.errors import violation_fields
from tests.integration.log_v1 import fresh_database

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0


@dataclass
class ServiceProcess:
    process: "subprocess.Popen[bytes]"
    output: Path
    target: str

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture(scope="module")
def own_database(server_url: str) -> Iterator[str]:
    """A database of this module's own: its service sweeps by the real clock (expiring the
    stored answers other tests wrote at their fake clock's time), and its scans read every
    table whole."""
    with fresh_database(server_url, "loyalty_forget") as url:
        yield url


@pytest.fixture
def service(own_database: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """`loyalty-ledger serve` in a process of its own, its stdout and stderr kept in a file."""
    output = tmp_path / "service.log"
    env = {
        **os.environ,
        # The service's own login, as in production (it refuses a superuser).
        "DATABASE_URL": service_login_url(own_database),
        "LEDGER_SWEEP_INTERVAL_SECONDS": "1",
        "LEDGER_RUN_PROJECTIONS": "true",
        "LEDGER_AUTH": "none",
        "LEDGER_PLAINTEXT": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
    }
    env.pop("LEDGER_LOG_MEMBER_IDS", None)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "serve",
                "--no-migrate",
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    port = _port(process, output)
    yield ServiceProcess(process, output, f"127.0.0.1:{port}")
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _port(process: "subprocess.Popen[bytes]", output: Path) -> int:
    stop = time.monotonic() + START_SECONDS
    while time.monotonic() < stop:
        for line in output.read_text(errors="replace").splitlines():
            if '"serving"' in line:
                return int(json.loads(line)["port"])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the service did not start:\n{output.read_text()[-3000:]}")


def _tables_holding(database_url: str, text: str) -> list[str]:
    """Every table of the database (any schema but PostgreSQL's own) with a row whose text
    holds `text`."""
    found = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert ("ledger", "events") in tables and ("ledger", "members") in tables
        for schema, table in tables:
            statement = sql.SQL("SELECT count(*) FROM {} AS t WHERE strpos(t::text, %s) > 0")
            row = connection.execute(
                statement.format(sql.Identifier(schema, table)), (text,)
            ).fetchone()
            assert row is not None
            if row[0]:
                found.append(f"{schema}.{table}")
    return found


def _program_totals(database_url: str, program_id: str) -> tuple[int, ...]:
    """What finance sums over a program: every balance of every account, and its events."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT sum(points_available), sum(points_pending), sum(points_held),"
            " sum(points_lifetime_earned), sum(points_lifetime_redeemed), sum(points_expired)"
            " FROM ledger.streams WHERE program_id = %s",
            (program_id,),
        ).fetchone()
        events = connection.execute(
            "SELECT count(*) FROM ledger.events WHERE program_id = %s"
            " AND event_type <> 'MemberForgotten'",
            (program_id,),
        ).fetchone()
    assert row is not None and events is not None
    return (*(int(value) for value in row), int(events[0]))


async def _feed_text(
    stub: "LedgerServiceAsyncStub", program_id: str
) -> tuple[str, list[pb.LedgerEntry]]:
    entries = [
        response.entry
        async for response in stub.StreamEvents(
            pb.StreamEventsRequest(program=f"programs/{program_id}", catch_up_only=True)
        )
    ]
    return "\n".join(str(entry) for entry in entries), entries


async def _everything_a_member_does(
    stub: "LedgerServiceAsyncStub", program_id: str, member_id: str, friend_id: str
) -> None:
    parent = f"programs/{program_id}"
    account, friend = f"{parent}/accounts/{member_id}", f"{parent}/accounts/{friend_id}"
    for who in (member_id, friend_id):
        await stub.EnrollMember(
            pb.EnrollMemberRequest(request_id=request_id(), parent=parent, member_id=who)
        )
    await stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id="order-1",
            amount=pb.Money(currency_code="USD", units=120),
        )
    )
    await stub.EarnPoints(
        pb.EarnPointsRequest(request_id=request_id(), account=account, points=50, reason="review")
    )
    await stub.AdjustPoints(
        pb.AdjustPointsRequest(
            request_id=request_id(),
            account=account,
            points_delta=5,
            reason_code="goodwill",
            note="late parcel",
        )
    )
    await stub.TransferPoints(
        pb.TransferPointsRequest(
            request_id=request_id(), source_account=account, destination_account=friend, points=20
        )
    )
    await stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(),
            account=account,
            reservation_id="till-7",
            points=10,
            ttl_seconds=600,
        )
    )
    await stub.RedeemPoints(
        pb.RedeemPointsRequest(
            request_id=request_id(), account=account, points=15, reference="coupon-1"
        )
    )
    await stub.ImportHistory(
        pb.ImportHistoryRequest(
            request_id=request_id(),
            parent=parent,
            events=[
                pb.HistoricalEvent(
                    account=account,
                    points_delta=30,
                    external_id="old-1",
                    kind="purchase",
                    occur_time=Timestamp(seconds=1_700_000_000),
                )
            ],
        )
    )


@pytest.mark.fault
async def test_after_forget_member_the_id_is_nowhere_and_the_audit_and_totals_hold(
    service: ServiceProcess, own_database: str
) -> None:
    database_url = own_database
    member_id = f"jane.doe+{uuid.uuid4().hex[:8]}@example.com"
    friend_id = f"friend-{uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(service.target) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        program_id = await create_program(stub)
        await _everything_a_member_does(stub, program_id, member_id, friend_id)
        name = f"programs/{program_id}/accounts/{member_id}"

        # Before: the log, the state rows, the stored answers and the views hold keys only.
        assert _tables_holding(database_url, member_id) == ["ledger.members"]
        totals = _program_totals(database_url, program_id)
        before = await stub.GetAccount(pb.GetAccountRequest(name=name))

        forgotten = await stub.ForgetMember(pb.ForgetMemberRequest(name=name))
        # Again, as an operator would: through the command line.
        again = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "service.cli",
                "forget",
                program_id,
                member_id,
                "--target",
                service.target,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )

        assert forgotten.forgotten
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == {"forgotten": False}
        for call in (
            stub.GetAccount(pb.GetAccountRequest(name=name)),
            stub.EarnPoints(
                pb.EarnPointsRequest(request_id=request_id(), account=name, points=1, reason="x")
            ),
            stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(parent=name)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        feed, entries = await _feed_text(stub, program_id)
        # The directory (a moment behind the log) lists the friend and never the member.
        for _ in range(100):
            listed = await stub.ListAccounts(
                pb.ListAccountsRequest(parent=f"programs/{program_id}")
            )
            if [account.name for account in listed.accounts] == [
                f"programs/{program_id}/accounts/{friend_id}"
            ]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the directory still lists: {listed}")

    audit = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service.cli", "audit", "--program", program_id, "--workers", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert before.account.balances.available > 0
    assert _program_totals(database_url, program_id) == totals
    # The member's events stay, attributed to its key; MemberForgotten records no id.
    forgotten_entries = [entry for entry in entries if entry.member_key and not entry.account]
    assert {entry.event_type for entry in forgotten_entries} >= {
        "MemberEnrolled",
        "PurchaseRecorded",
        "PointsTransferredOut",
        "MemberForgotten",
    }
    assert len({entry.member_key for entry in forgotten_entries}) == 1
    for where, text in (
        ("tables", ", ".join(_tables_holding(database_url, member_id))),
        ("event feed", feed),
        ("audit output", audit.stdout + audit.stderr),
        ("service output", service.text()),
    ):
        assert member_id not in text, f"the member id is in the {where}"
    assert friend_id in feed  # the friend is not forgotten: the feed does name members


@pytest.mark.parametrize(
    ("name", "reason", "field"),
    [
        ("programs/shop/members/jane", "", "name"),
        ("programs/shop/accounts/jane doe", "", "name"),
        ("programs/shop/accounts/jane", "Member Request!", "reason"),
    ],
)
async def test_forget_member_with_bad_input_names_the_field(
    api: Api, name: str, reason: str, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ForgetMember(pb.ForgetMemberRequest(name=name, reason=reason))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation_fields(refused.value) == [field]


async def test_an_import_whose_request_id_holds_one_members_id_appends_for_nobody(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    jane, bob = f"jane-{uuid.uuid4().hex[:8]}@example.com", f"bob-{uuid.uuid4().hex[:8]}"
    parent = f"programs/{program_id}"
    when = Timestamp(seconds=1_700_000_000)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ImportHistory(
            pb.ImportHistoryRequest(
                request_id=f"import-{jane}",
                parent=parent,
                events=[
                    pb.HistoricalEvent(
                        account=f"{parent}/accounts/{who}",
                        points_delta=10,
                        external_id=f"old-{index}",
                        kind="purchase",
                        occur_time=when,
                    )
                    for index, who in enumerate((bob, jane))
                ],
            )
        )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation_fields(refused.value) == ["request_id"]
    assert _program_totals(database_url, program_id)[-1] == 1  # the program's creation only
