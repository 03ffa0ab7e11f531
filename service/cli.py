"""The `loyalty-ledger` command: serve, migrate, sweep, and a small client for the terminal."""

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from ledger import bootstrap
from ledger.domain.errors import NotFound
from ledger.eventlog.errors import StoreTimeout, StoreUnavailable
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.audit_report_cli import add_report_options, run_report
from service.callers import new_token, token_hash
from service.checkpointing import public_keys_given
from service.checkpoints_cli import add_checkpoint_commands, sweep_checkpointer, utc_day
from service.cli_channel import add_connection_options, error_report, open_channel
from service.cli_client import add_client_commands
from service.cli_exits import CANNOT_READ, NOTHING_TO_DO, refused
from service.cli_numbers import WORKERS, default_workers
from service.config import BadSettings, Settings
from service.logs import configure_logging
from service.names import account_name, program_name
from service.projections_cli import add_projection_commands
from service.simulate_cli import add_simulation_commands
from service.what_if_cli import add_what_if_command

if TYPE_CHECKING:
    from ledger.audit.liability import Liability

DEFAULT_TARGET = "127.0.0.1:50051"
CLIENT_TIMEOUT_SECONDS = 10.0


# --- server-side commands -----------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from service.database_login import PrivilegedLogin, judge_login_once_reachable, login_judged
    from service.server import CannotListen, settle_heap_for_serving, start_server

    configure_logging(os.environ.get("LEDGER_LOG_LEVEL", "INFO").upper())
    settings = Settings.from_env()
    if args.listen:
        settings = Settings(**{**settings.__dict__, "listen_address": args.listen})
    if not args.no_migrate:
        _migrate_as_owner()
    database_url = bootstrap.service_database_url()
    try:
        login_known = login_judged(database_url, settings)
    except PrivilegedLogin as error:
        raise _Fatal(str(error)) from None
    refused: list[str] = []

    async def run() -> None:
        try:
            running = await start_server(settings, database_url)
        except CannotListen as error:
            raise _Fatal(str(error)) from None
        settle_heap_for_serving()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)

        async def judge_later() -> None:
            wait = settings.start_database_wait_seconds
            try:
                await asyncio.wait_for(
                    judge_login_once_reachable(
                        database_url, settings, settings.health_check_interval_seconds
                    ),
                    wait or None,
                )
            except PrivilegedLogin as error:
                refused.append(str(error))
                stopping.set()
            except TimeoutError:
                refused.append(
                    f"the database did not answer within {wait} s of starting: check"
                    " DATABASE_URL and that PostgreSQL is up (LEDGER_START_DATABASE_WAIT_SECONDS"
                    " sets the wait, 0 waits for ever)"
                )
                stopping.set()

        judging = None if login_known else asyncio.create_task(judge_later())
        await stopping.wait()
        if judging is not None:
            judging.cancel()
        await running.stop(settings.shutdown_grace_seconds)

    asyncio.run(run())
    if refused:
        raise _Fatal(refused[0])
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    print(json.dumps({"applied": _migrate_as_owner()}))
    return 0


def _migrate_as_owner() -> list[str]:
    """Migrates with the owner's login (LEDGER_OWNER_DATABASE_URL); the service's own login
    may not, and saying so in one line beats a traceback."""
    try:
        return bootstrap.migrate(bootstrap.owner_database_url())
    except bootstrap.DatabaseError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise _Fatal(
            f"cannot migrate: {first} (migrations need the owner's login in"
            " LEDGER_OWNER_DATABASE_URL; serve --no-migrate skips them)"
        ) from None


def _sweep(_args: argparse.Namespace) -> int:
    from service.server import utc_now

    settings = Settings.from_env()
    checkpointer = sweep_checkpointer(settings)

    async def run() -> dict[str, int]:
        async with bootstrap.postgres_ledger(
            bootstrap.service_database_url(),
            utc_now,
            role=settings.database_role,
            answer_retention=timedelta(days=settings.answer_retention_days),
        ) as ledger:
            appended = await ledger.sweep()
            answers, strays = await ledger.expire()
        return {
            "events_appended": appended,
            "answers_expired": answers,
            "stray_links_deleted": strays,
        }

    swept: dict[str, int | None] = {**asyncio.run(run())}
    swept["checkpoint_id"] = checkpointer.make_due() if checkpointer is not None else None
    print(json.dumps(swept))
    return 0


def _read_horizon(_args: argparse.Namespace) -> int:
    """How far the oldest open transaction holds readers of the log back (README)."""
    from ledger.eventlog.horizon import ReadHorizon
    from service.server import utc_now

    settings = Settings.from_env()

    async def run() -> ReadHorizon:
        async with bootstrap.postgres_ledger(
            bootstrap.service_database_url(),
            utc_now,
            pool_min_size=1,
            pool_max_size=1,
            role=settings.database_role,
        ) as ledger:
            return await ledger.read_horizon()

    print(json.dumps(asyncio.run(run()).as_dict(), indent=2))
    return 0


def _audit(args: argparse.Namespace) -> int:
    """Replays the log straight from PostgreSQL; exit status 1 if anything is off, 2 if there
    is nothing to audit (an unknown program), 3 if the database could not be read (nothing
    was audited: never taken for a discrepancy)."""
    from ledger.audit.checkpoints import verify_checkpoints
    from ledger.audit.liability import Liability
    from ledger.audit.replay import replay

    if args.report:
        return run_report(args)
    if args.as_of is not None:
        print(
            json.dumps({"reason": "AS_OF_NEEDS_REPORT", "message": "--as-of needs --report"}),
            file=sys.stderr,
        )
        return 2
    public_keys = public_keys_given(args.public_key, Settings.from_env())
    try:
        result = replay(
            bootstrap.database_url(), args.program, workers=args.workers, accumulators=[Liability]
        )
        # After the replay, in a snapshot of its own: the log only grows, and a checkpoint
        # made in between covers events that snapshot holds.
        checked = verify_checkpoints(
            bootstrap.database_url(), args.program, public_keys, since=args.checkpoints_since
        )
    except NotFound as error:
        return refused(error, NOTHING_TO_DO)
    ok = result.ok and not checked.found
    print(
        json.dumps(
            {
                "ok": ok,
                "streams": result.streams,
                "events": result.events,
                "discrepancy_count": result.discrepancy_count + len(checked.found),
                "discrepancies": [
                    found.__dict__ for found in (*checked.found, *result.discrepancies)
                ],
                "checkpoints": checked.as_dict(),
                "liability": _liability(result.get(Liability)),
            },
            indent=2,
        )
    )
    return 0 if ok else 1


def _liability(liability: "Liability") -> dict[str, Any]:
    """Outstanding points per program and their worth per currency, as decimal strings of
    major units (exact; finance rounds as it reports)."""
    return {
        "points_outstanding": dict(sorted(liability.points.items())),
        "value": {
            program_id: {currency: str(amount) for currency, amount in values.items()}
            for program_id, values in liability.money().items()
        },
    }


# --- client commands ----------------------------------------------------------------------


def _money(amount: str, currency_code: str) -> pb.Money:
    value = Decimal(amount)
    units = int(value)
    nanos = int((value - units) * 1_000_000_000)
    return pb.Money(currency_code=currency_code.upper(), units=units, nanos=nanos)


def _rate(text: str) -> pb.EarnRate:
    parts = text.split(":")
    per = int(parts[2]) if len(parts) > 2 else 1  # noqa: PLR2004
    return pb.EarnRate(currency_code=parts[0].upper(), points=int(parts[1]), per_major_units=per)


_POLICIES = {
    "pending_only": pb.NEGATIVE_BALANCE_POLICY_PENDING_ONLY,
    "within_balance": pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE,
    "allow_negative": pb.NEGATIVE_BALANCE_POLICY_ALLOW_NEGATIVE,
}
_ROUNDINGS = {
    "end_of_day": pb.EXPIRY_ROUNDING_END_OF_DAY,
    "end_of_month": pb.EXPIRY_ROUNDING_END_OF_MONTH,
    "end_of_year": pb.EXPIRY_ROUNDING_END_OF_YEAR,
}
_ACTIVITIES = {
    "purchase": pb.QUALIFYING_ACTIVITY_PURCHASE,
    "earn": pb.QUALIFYING_ACTIVITY_EARN,
    "redemption": pb.QUALIFYING_ACTIVITY_REDEMPTION,
    "transfer": pb.QUALIFYING_ACTIVITY_TRANSFER,
    "action": pb.QUALIFYING_ACTIVITY_ACTION,
}

ClientCall = Callable[[ledger_pb2_grpc.LedgerServiceStub, argparse.Namespace, str], Any]

CLIENT_CALLS: dict[str, ClientCall] = {
    "create-program": lambda stub, a, rid: stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=rid,
            program_id=a.program,
            program=pb.Program(
                display_name=a.display_name,
                earn_rates=[_rate(rate) for rate in a.rate],
                return_window_days=a.return_window_days,
                points_expiry_days=a.expiry_days,
                negative_balance_policy=_POLICIES[a.negative_balance_policy],
                expiry_rounding=_ROUNDINGS[a.expiry_rounding],
                inactivity_expiry_days=a.inactivity_expiry_days,
                qualifying_activities=[_ACTIVITIES[name] for name in a.qualifying_activity],
            ),
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "get-program": lambda stub, a, _: stub.GetProgram(
        pb.GetProgramRequest(name=program_name(a.program), revision=a.revision),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "enroll": lambda stub, a, rid: stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=rid,
            parent=program_name(a.program),
            member_id=a.member,
            referral_code=a.referral_code,
            purchased_before=a.purchased_before,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "purchase": lambda stub, a, rid: stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            order_id=a.order,
            amount=_money(a.amount, a.currency),
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "refund": lambda stub, a, rid: stub.RefundPurchase(
        pb.RefundPurchaseRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            order_id=a.order,
            amount=_money(a.amount, a.currency),
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "earn": lambda stub, a, rid: stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            points=a.points,
            reason=a.reason,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "redeem": lambda stub, a, rid: stub.RedeemPoints(
        pb.RedeemPointsRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            points=a.points,
            reference=a.reference,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "redeem-reward": lambda stub, a, rid: stub.RedeemReward(
        pb.RedeemRewardRequest(
            request_id=rid, account=account_name(a.program, a.member), reward_id=a.reward
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "record-action": lambda stub, a, rid: stub.RecordAction(
        pb.RecordActionRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            action_id=a.action,
            reference=a.reference,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "grant-bonus": lambda stub, a, rid: stub.GrantBonus(
        pb.GrantBonusRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            points=a.points,
            reason_code=a.reason_code,
            note=a.note,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "change-tier": lambda stub, a, rid: stub.ChangeTier(
        pb.ChangeTierRequest(
            request_id=rid,
            account=account_name(a.program, a.member),
            tier=a.tier,
            reason_code=a.reason_code,
            note=a.note,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "account": lambda stub, a, _: stub.GetAccount(
        pb.GetAccountRequest(name=account_name(a.program, a.member)),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "entries": lambda stub, a, _: stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(
            parent=account_name(a.program, a.member), page_size=a.page_size
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "referrals": lambda stub, a, _: stub.ListReferrals(
        pb.ListReferralsRequest(
            parent=account_name(a.program, a.member),
            page_size=a.page_size,
            page_token=a.page_token,
        ),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
    "forget": lambda stub, a, _: stub.ForgetMember(
        pb.ForgetMemberRequest(name=account_name(a.program, a.member), reason=a.reason),
        timeout=CLIENT_TIMEOUT_SECONDS,
    ),
}


def _client(args: argparse.Namespace) -> int:
    request_id = args.request_id or str(uuid.uuid4())
    with open_channel(args) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        try:
            response: Message = CLIENT_CALLS[args.command](stub, args, request_id)
        except grpc.RpcError as error:
            print(error_report(error), file=sys.stderr)
            return 1
    print(json_format.MessageToJson(response, always_print_fields_with_no_presence=True))
    return 0


def _new_token(_args: argparse.Namespace) -> int:
    token = new_token()
    print(
        json.dumps(
            {
                "token": token,
                "callers_file": f'[[callers.tokens]]\nsha256 = "{token_hash(token)}"',
            }
        )
    )
    return 0


# --- argument parsing ---------------------------------------------------------------------


def _version() -> str:
    """The installed distribution's version (a checkout without an install says so)."""
    try:
        return importlib.metadata.version("loyalty-ledger")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loyalty-ledger", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve gRPC (embedded PostgreSQL if no DATABASE_URL)")
    serve.add_argument("--listen", help="address to listen on (default $LEDGER_LISTEN_ADDRESS)")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="apply schema migrations").set_defaults(run=_migrate)
    commands.add_parser("sweep", help="append what is due now (for a CronJob)").set_defaults(
        run=_sweep
    )
    commands.add_parser(
        "read-horizon", help="show how far the oldest open transaction holds readers back"
    ).set_defaults(run=_read_horizon)
    commands.add_parser(
        "new-token",
        help="make a bearer token and print it with the line the callers file needs (its hash)",
    ).set_defaults(run=_new_token)
    audit = commands.add_parser(
        "audit",
        help="verify hash chains and recompute balances; exit 1 on any discrepancy,"
        " 2 on an unknown program",
    )
    audit.add_argument("--program", help="only this program's streams")
    audit.add_argument("--workers", type=WORKERS, default=default_workers())
    audit.add_argument(
        "--public-key",
        action="append",
        help="public key file (PEM, one key or several) to verify checkpoints with; repeatable"
        " (default: from the settings)",
    )
    audit.add_argument(
        "--checkpoints-since",
        type=utc_day,
        help="YYYY-MM-DD (UTC): verify only the checkpoints made from that day on (default: all)",
    )
    add_report_options(audit)
    audit.set_defaults(run=_audit)
    add_projection_commands(commands)
    add_checkpoint_commands(commands)
    add_what_if_command(commands)
    add_simulation_commands(commands, DEFAULT_TARGET)

    def client(name: str, help_text: str, *arguments: tuple[str, dict[str, Any]]) -> None:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--target", default=DEFAULT_TARGET, help="server address")
        sub.add_argument("--request-id", help="idempotency key (default: a new UUID)")
        add_connection_options(sub)
        for argument, options in arguments:
            sub.add_argument(argument, **options)
        sub.set_defaults(run=_client)

    program: tuple[str, dict[str, Any]] = ("program", {"help": "program id"})
    member: tuple[str, dict[str, Any]] = ("member", {"help": "member id"})
    client(
        "create-program",
        "create a program",
        program,
        ("--display-name", {"default": ""}),
        (
            "--rate",
            {"action": "append", "default": [], "help": "CUR:POINTS[:PER_UNITS], e.g. USD:1"},
        ),
        ("--return-window-days", {"type": int, "default": 0}),
        ("--expiry-days", {"type": int, "default": 0}),
        ("--negative-balance-policy", {"choices": sorted(_POLICIES), "default": "within_balance"}),
        ("--expiry-rounding", {"choices": sorted(_ROUNDINGS), "default": "end_of_day"}),
        ("--inactivity-expiry-days", {"type": int, "default": 0}),
        (
            "--qualifying-activity",
            {"action": "append", "default": [], "choices": sorted(_ACTIVITIES)},
        ),
    )
    client(
        "get-program",
        "show a program",
        program,
        ("--revision", {"type": int, "default": 0, "help": "a past revision (default: current)"}),
    )
    client(
        "enroll",
        "enroll a member",
        program,
        member,
        ("--referral-code", {"default": "", "help": "the code of the member who referred them"}),
        ("--purchased-before", {"action": "store_true", "help": "they bought as a guest"}),
    )
    client(
        "purchase",
        "record a purchase",
        program,
        member,
        ("order", {}),
        ("amount", {"help": "decimal amount, e.g. 12.34"}),
        ("currency", {}),
    )
    client(
        "refund",
        "refund a purchase",
        program,
        member,
        ("order", {}),
        ("amount", {}),
        ("currency", {}),
    )
    client(
        "earn",
        "earn points",
        program,
        member,
        ("points", {"type": int}),
        ("--reason", {"default": "bonus"}),
    )
    client(
        "redeem",
        "redeem points",
        program,
        member,
        ("points", {"type": int}),
        ("--reference", {"default": ""}),
    )
    client(
        "redeem-reward",
        "redeem a reward of the program's catalogue; prints its redemption code",
        program,
        member,
        ("reward", {"help": "reward id"}),
    )
    client(
        "record-action",
        "record an action the program rewards (review, birthday...): its points within caps",
        program,
        member,
        ("action", {"help": "action id, e.g. review"}),
        ("--reference", {"default": "", "help": "what was done, e.g. the review id"}),
    )
    client(
        "grant-bonus",
        "grant a one-off surprise bonus",
        program,
        member,
        ("points", {"type": int}),
        ("reason_code", {"help": "why, 1 to 64 of [a-z0-9_], e.g. vip_surprise"}),
        ("--note", {"default": "", "help": "internal note, no personal data"}),
    )
    client(
        "change-tier",
        "put a member in a tier (an admin's decision); an empty tier is below the lowest",
        program,
        member,
        ("tier", {"help": "one of the program's tier names, or '' for none"}),
        ("reason_code", {"help": "why, 1 to 64 of [a-z0-9_], e.g. goodwill"}),
        ("--note", {"default": "", "help": "internal note, no personal data"}),
    )
    client("account", "show an account (balances, tier and its progress)", program, member)
    client(
        "entries",
        "list ledger entries",
        program,
        member,
        ("--page-size", {"type": int, "default": 50}),
    )
    client(
        "referrals",
        "list a member's referrals: the one they enrolled with, then those made with their code",
        program,
        member,
        ("--page-size", {"type": int, "default": 100}),
        ("--page-token", {"default": ""}),
    )
    client(
        "forget",
        "forget a member: erase its id, keep its events under its pseudonymous key",
        program,
        member,
        ("--reason", {"default": "member_request", "help": "why, 1 to 64 of [a-z0-9_]"}),
    )
    CLIENT_CALLS.update(add_client_commands(client, _rate, _POLICIES, CLIENT_TIMEOUT_SECONDS))
    return parser


class _Fatal(Exception):
    """Ends the command with this message on stderr and exit code 1, without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            code: int = args.run(args)
        except BadSettings as error:
            print("loyalty-ledger: bad settings in the environment:", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        except _Fatal as error:
            print(f"loyalty-ledger: {error}", file=sys.stderr)
            return 1
        except (StoreUnavailable, StoreTimeout) as error:
            # Any command that needs the database and cannot reach it (the audits, sweep,
            # read-horizon, projections status...): one line, never a traceback.
            return refused(error, CANNOT_READ)
        return code
    return 130


if __name__ == "__main__":
    sys.exit(main())
