"""Who may call what, through the real server with real tokens: scopes per RPC, callers bound
to their programs (reads, writes and streams), bad tokens refused, the actor taken from the
credentials and never from a header, and callers rotated without a restart."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.auth import RPC_SCOPES
from service.callers import RELOAD_CHECK_SECONDS, SCOPES, token_hash
from service.config import Settings
from service.server import RunningServer, start_server
from tests.bearer import callers_toml
from tests.conftest import T0, FakeClock, request_id, unique
from tests.e2e.errors import failure

if TYPE_CHECKING:
    from loyalty.v1.ledger_pb2_grpc import LedgerServiceAsyncStub

ADMIN = "admin-token-0123456789"
SHOP_A = "shop-a-token-0123456789"
READER_B = "reader-b-token-0123456789"
POS = "pos-token-0123456789"
EXPIRED = "expired-token-0123456789"
BRAND_A_ADMIN = "brand-a-admin-token-0123456789"


@dataclass
class Secured:
    running: RunningServer
    channel: grpc.aio.Channel
    stub: "LedgerServiceAsyncStub"
    program_a: str
    program_b: str
    account_a: str
    account_b: str


def _callers(program_a: str, program_b: str) -> str:
    text = callers_toml(
        ("admin", ADMIN, sorted(SCOPES), ["*"]),
        ("shop-a", SHOP_A, ["read", "write", "redeem"], [program_a]),
        ("reader-b", READER_B, ["read"], [program_b]),
        ("brand-a-admin", BRAND_A_ADMIN, ["admin", "read"], [program_a]),
    )
    return text + (
        f'\n[[callers]]\nname = "pos-eu"\nscopes = ["write", "read"]\nprograms = ["{program_a}"]\n'
        f"act_on_behalf = true\n"
        f'[[callers.tokens]]\nsha256 = "{token_hash(POS)}"\n'
        f'[[callers.tokens]]\nsha256 = "{token_hash(EXPIRED)}"\n'
        f"expires = {(T0 - timedelta(seconds=1)).isoformat().replace('+00:00', 'Z')}\n"
    )


def bearer(token: str, *more: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), *more)


async def _start(database_url: str, clock: FakeClock, **settings: Any) -> RunningServer:
    return await start_server(
        Settings(
            listen_address="127.0.0.1:0", sweep_interval_seconds=0, plaintext=True, **settings
        ),
        database_url,
        now=clock,
    )


@pytest.fixture
async def secured(database_url: str, clock: FakeClock) -> AsyncIterator[Secured]:
    program_a, program_b = unique("prog-a"), unique("prog-b")
    running = await _start(database_url, clock, callers=_callers(program_a, program_b))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    accounts = []
    for program_id in (program_a, program_b):
        await stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(),
                program_id=program_id,
                program=pb.Program(
                    earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)]
                ),
            ),
            metadata=bearer(ADMIN),
        )
        enrolled = await stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=request_id(), parent=f"programs/{program_id}", member_id=unique("m")
            ),
            metadata=bearer(ADMIN),
        )
        accounts.append(enrolled.account.name)
    yield Secured(running, channel, stub, program_a, program_b, accounts[0], accounts[1])
    await channel.close()
    await running.stop(1)


def _request_for(method: str, program: str, account: str) -> Message:
    """The method's request naming `program` (or an account in it) and nothing else."""
    descriptor = pb.DESCRIPTOR.services_by_name["LedgerService"].methods_by_name[method]
    request_class = getattr(pb, descriptor.input_type.name)
    request: Message = request_class()
    fields = request.DESCRIPTOR.fields_by_name
    for name, value in (
        ("program_id", program.removeprefix("programs/")),
        ("name", account if method in {"GetAccount", "ForgetMember"} else program),
        ("parent", program),
        ("account", account),
        ("program", program),
        ("source_account", account),
        ("destination_account", account),
    ):
        if (
            name in fields
            and fields[name].type == fields[name].TYPE_STRING
            and not fields[name].is_repeated
        ):
            setattr(request, name, value)
    return request


async def _call(
    stub: Any, method: str, request: Message, token: str
) -> tuple[grpc.StatusCode, str]:
    """The status and reason a call ends with (OK, "" when it succeeds)."""
    call = getattr(stub, method)(request, metadata=bearer(token), timeout=10)
    try:
        if method.startswith("Stream"):
            request_stream = call
            async with asyncio.timeout(2):
                async for _ in request_stream:
                    break
        else:
            await call
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return failure(error)[:2]
        return error.code(), "past authorization"
    except TimeoutError:
        call.cancel()
    return grpc.StatusCode.OK, "past authorization"


def test_every_rpc_of_the_service_needs_a_known_scope() -> None:
    methods = set(pb.DESCRIPTOR.services_by_name["LedgerService"].methods_by_name)
    assert methods == set(RPC_SCOPES)
    assert set(RPC_SCOPES.values()) <= SCOPES


@pytest.mark.parametrize(
    "method", sorted(pb.DESCRIPTOR.services_by_name["LedgerService"].methods_by_name)
)
async def test_each_rpc_is_allowed_with_its_scope_and_denied_without(
    secured: Secured, method: str
) -> None:
    program = f"programs/{secured.program_a}"
    request = _request_for(method, program, secured.account_a)
    shop_has_it = RPC_SCOPES[method] in {"read", "write", "redeem"}

    as_admin = await _call(secured.stub, method, request, ADMIN)
    as_shop = await _call(secured.stub, method, request, SHOP_A)

    assert as_admin[1] == "past authorization"
    if shop_has_it:
        assert as_shop[1] == "past authorization"
    else:
        assert as_shop == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING")


@pytest.mark.parametrize(
    "method",
    [
        "GetAccount",
        "ListLedgerEntries",
        "EarnPoints",
        "RedeemPoints",
        "StreamEvents",
        "GetProgram",
        "StreamStageChanges",
    ],
)
async def test_a_caller_bound_to_one_program_can_never_touch_another(
    secured: Secured, method: str
) -> None:
    request = _request_for(method, f"programs/{secured.program_b}", secured.account_b)

    assert await _call(secured.stub, method, request, SHOP_A) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PROGRAM_NOT_ALLOWED",
    )


async def test_a_brands_admin_updates_its_own_program_and_never_another(
    secured: Secured,
) -> None:
    """UpdateProgram names its program inside the settings message (`program.name`)."""

    def update(program_id: str) -> pb.UpdateProgramRequest:
        return pb.UpdateProgramRequest(
            request_id=request_id(),
            program=pb.Program(
                name=f"programs/{program_id}",
                earn_rates=[pb.EarnRate(currency_code="USD", points=2, per_major_units=1)],
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["earn_rates"]),
        )

    assert await _call(secured.stub, "UpdateProgram", update(secured.program_b), BRAND_A_ADMIN) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PROGRAM_NOT_ALLOWED",
    )
    updated = await secured.stub.UpdateProgram(
        update(secured.program_a), metadata=bearer(BRAND_A_ADMIN), timeout=10
    )
    assert updated.program.revision == 2
    assert updated.program.earn_rates[0].points == 2


async def test_a_batch_naming_one_account_of_another_program_is_denied_whole(
    secured: Secured,
) -> None:
    both = pb.BatchGetAccountsRequest(names=[secured.account_a, secured.account_b])
    own = pb.BatchGetAccountsRequest(names=[secured.account_a])

    assert await _call(secured.stub, "BatchGetAccounts", both, SHOP_A) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PROGRAM_NOT_ALLOWED",
    )
    assert await _call(secured.stub, "BatchGetAccounts", own, SHOP_A) == (
        grpc.StatusCode.OK,
        "past authorization",
    )


async def test_streaming_every_program_needs_a_caller_of_every_program(secured: Secured) -> None:
    everything = pb.StreamEventsRequest()

    assert await _call(secured.stub, "StreamEvents", everything, SHOP_A) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PROGRAM_NOT_ALLOWED",
    )
    assert (await _call(secured.stub, "StreamEvents", everything, ADMIN))[1] == "past authorization"


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "CREDENTIALS_MISSING"),
        ((("authorization", "Basic YWRtaW46YWRtaW4="),), "TOKEN_MALFORMED"),
        ((("authorization", "Bearer "),), "TOKEN_MALFORMED"),
        (bearer("not-a-token-anyone-was-given"), "TOKEN_UNKNOWN"),
        (bearer(EXPIRED), "TOKEN_EXPIRED"),
    ],
)
async def test_missing_malformed_unknown_and_expired_tokens_are_unauthenticated(
    secured: Secured, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await secured.stub.GetAccount(
            pb.GetAccountRequest(name=secured.account_a), metadata=metadata
        )

    assert failure(raised.value)[:2] == (grpc.StatusCode.UNAUTHENTICATED, reason)
    assert "token-0123456789" not in (raised.value.details() or "")


async def _actor_of_last_entry(secured: Secured) -> str:
    listed = await secured.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=secured.account_a, page_size=100), metadata=bearer(ADMIN)
    )
    actor: str = listed.entries[-1].actor
    return actor


async def test_the_actor_is_the_caller_and_a_forged_actor_header_is_ignored(
    secured: Secured,
) -> None:
    await secured.stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=secured.account_a, points=5, reason="bonus"
        ),
        metadata=bearer(SHOP_A, ("loyalty-actor", "chief-executive")),
    )

    assert await _actor_of_last_entry(secured) == "shop-a"


async def test_only_a_caller_allowed_to_may_act_on_behalf_of_someone(secured: Secured) -> None:
    earn = pb.EarnPointsRequest(account=secured.account_a, points=5, reason="bonus")
    earn.request_id = request_id()
    await secured.stub.EarnPoints(earn, metadata=bearer(POS, ("loyalty-on-behalf-of", "clerk-7")))
    assert await _actor_of_last_entry(secured) == "pos-eu:clerk-7"

    earn.request_id = request_id()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await secured.stub.EarnPoints(earn, metadata=bearer(SHOP_A, ("loyalty-on-behalf-of", "x")))
    assert failure(raised.value)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "ON_BEHALF_NOT_ALLOWED")


async def test_health_answers_without_credentials_and_reflection_needs_them(
    secured: Secured,
) -> None:
    health = health_pb2_grpc.HealthStub(secured.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
    reflection = reflection_pb2_grpc.ServerReflectionStub(secured.channel)
    asked = reflection_pb2.ServerReflectionRequest(list_services="")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in reflection.ServerReflectionInfo(iter([asked])):
            pass
    listed = [
        r async for r in reflection.ServerReflectionInfo(iter([asked]), metadata=bearer(READER_B))
    ]

    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert failure(raised.value)[:2] == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING")
    assert "loyalty.v1.LedgerService" in {s.name for s in listed[0].list_services_response.service}


async def test_callers_rotate_by_editing_the_file_without_a_restart(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "callers.toml"
    old, new = "first-token-0123456789", "second-token-0123456789"
    path.write_text(callers_toml(("ops", old, ["read"], ["*"])))
    running = await _start(database_url, clock, callers_file=str(path))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            missing = pb.GetProgramRequest(name="programs/no-such-program")

            before = await _call(stub, "GetProgram", missing, old)
            path.write_text(callers_toml(("ops", new, ["read"], ["*"])))
            await asyncio.sleep(RELOAD_CHECK_SECONDS * 1.1)
            old_after = await _call(stub, "GetProgram", missing, old)
            new_after = await _call(stub, "GetProgram", missing, new)
            path.write_text("this is [not TOML")  # a broken edit keeps what was read before
            await asyncio.sleep(RELOAD_CHECK_SECONDS * 1.1)
            after_broken = await _call(stub, "GetProgram", missing, new)
    finally:
        await running.stop(1)

    assert before == (grpc.StatusCode.NOT_FOUND, "past authorization")
    assert old_after == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_UNKNOWN")
    assert new_after == (grpc.StatusCode.NOT_FOUND, "past authorization")
    assert after_broken == (grpc.StatusCode.NOT_FOUND, "past authorization")


async def test_serving_with_tokens_but_no_callers_or_with_a_bad_callers_file_does_not_start(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    from service.config import BadSettings

    with pytest.raises(BadSettings) as no_callers:
        await _start(database_url, clock)
    bad = tmp_path / "callers.toml"
    bad.write_text('[[callers]]\nname = "x"\nscopes = ["superuser"]\nprograms = ["*"]\n')
    with pytest.raises(BadSettings) as bad_file:
        await _start(database_url, clock, callers_file=str(bad))

    assert [p.split(":")[0] for p in no_callers.value.problems] == ["LEDGER_CALLERS_FILE"]
    assert json.dumps(bad_file.value.problems).count("callers[0]") == 2  # scopes, no credential


async def test_the_terminal_client_sends_its_token_and_prints_why_it_was_refused(
    secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service import cli

    token_file = tmp_path / "token"
    token_file.write_text(READER_B + "\n")
    target = f"127.0.0.1:{secured.running.port}"
    member = secured.account_b.rsplit("/", 1)[1]

    allowed = await asyncio.to_thread(
        cli.main,
        ["account", secured.program_b, member, "--target", target, "--token-file", str(token_file)],
    )
    shown = json.loads(capsys.readouterr().out)
    denied = await asyncio.to_thread(
        cli.main,
        [
            "earn",
            secured.program_b,
            member,
            "5",
            "--target",
            target,
            "--token-file",
            str(token_file),
        ],
    )
    refusal = json.loads(capsys.readouterr().err)

    assert (allowed, shown["account"]["name"]) == (0, secured.account_b)
    assert (denied, refusal["code"], refusal["reason"]) == (1, "PERMISSION_DENIED", "SCOPE_MISSING")


async def test_the_terminal_client_takes_its_token_from_the_environment(
    secured: Secured, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service import cli

    target = f"127.0.0.1:{secured.running.port}"
    member = secured.account_b.rsplit("/", 1)[1]
    command = ["account", secured.program_b, member, "--target", target]
    monkeypatch.delenv("LEDGER_TOKEN_FILE", raising=False)
    monkeypatch.delenv("LEDGER_TOKEN", raising=False)
    anonymous = await asyncio.to_thread(cli.main, command)
    refusal = json.loads(capsys.readouterr().err)
    monkeypatch.setenv("LEDGER_TOKEN", READER_B)

    allowed = await asyncio.to_thread(cli.main, command)

    assert (anonymous, refusal["code"]) == (1, "UNAUTHENTICATED")
    assert (allowed, json.loads(capsys.readouterr().out)["account"]["name"]) == (
        0,
        secured.account_b,
    )


def test_a_new_token_comes_with_the_hash_the_callers_file_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service import cli

    assert cli.main(["new-token"]) == 0
    made = json.loads(capsys.readouterr().out)

    assert len(made["token"]) >= 43  # 32 random bytes
    assert f'sha256 = "{token_hash(made["token"])}"' in made["callers_file"]


async def test_one_caller_cannot_hold_more_than_its_share_of_open_streams(
    database_url: str, clock: FakeClock
) -> None:
    from tests.e2e.streams import Subscriber, wait_until

    program_a, program_b = unique("prog-a"), unique("prog-b")
    running = await _start(
        database_url, clock, callers=_callers(program_a, program_b), max_streams_per_caller=3
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    request = pb.StreamEventsRequest(program=f"programs/{program_a}")

    def follow(token: str) -> Subscriber:
        return Subscriber(stub, request, bearer(token))

    try:
        shops = [follow(SHOP_A) for _ in range(3)]
        await wait_until(lambda: running.feed.live_subscribers == 3, 10, "three live")
        fourth = follow(SHOP_A)
        await asyncio.wait_for(fourth.ended.wait(), 10)
        admins = follow(ADMIN)  # another caller still gets one
        await wait_until(lambda: running.feed.live_subscribers == 4, 10, "the admin's live")
        await shops[0].stop()
        again = follow(SHOP_A)  # a stream closed is room again
        await wait_until(lambda: running.feed.live_subscribers == 4, 10, "room again")
        for subscriber in (*shops[1:], admins, again):
            assert subscriber.error is None and not subscriber.ended.is_set()
            await subscriber.stop()
    finally:
        await channel.close()
        await running.stop(1)

    assert fourth.error is not None
    assert failure(fourth.error)[:2] == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_STREAMS_FOR_CALLER",
    )
