"""Client commands over gRPC for the RPCs beside the first few (service/cli.py holds those):
points by hand, transfers, holds, confirmations, program changes and history."""

import argparse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.names import account_name, program_name

ClientCall = Callable[[ledger_pb2_grpc.LedgerServiceStub, argparse.Namespace, str], Any]
Argument = tuple[str, dict[str, Any]]

PROGRAM: Argument = ("program", {"help": "program id"})
MEMBER: Argument = ("member", {"help": "member id"})

SETTING_FLAGS: dict[str, str] = {
    "display_name": "display_name",
    "rate": "earn_rates",
    "return_window_days": "return_window_days",
    "expiry_days": "points_expiry_days",
    "negative_balance_policy": "negative_balance_policy",
    "max_hold_ttl_seconds": "max_hold_ttl_seconds",
    "time_zone": "time_zone",
}
"""update-program flag (argparse dest) -> the Program field it sets."""


def time_argument(text: str) -> Timestamp:
    """An RFC 3339 instant with its offset, as a Timestamp (argparse type)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 2026-01-01T00:00Z")
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def update_program_request(
    args: argparse.Namespace,
    request_id: str,
    rate: Callable[[str], pb.EarnRate],
    policies: Mapping[str, pb.NegativeBalancePolicy.ValueType],
) -> pb.UpdateProgramRequest:
    """The flags given set their settings; the mask is theirs unless --update-mask names
    others (a field in the mask with no flag is reset to its default)."""
    given = {dest: getattr(args, dest) for dest in SETTING_FLAGS if getattr(args, dest) is not None}
    program = pb.Program(name=program_name(args.program))
    for dest, value in given.items():
        if dest == "rate":
            program.earn_rates.extend(rate(text) for text in value)
        elif dest == "negative_balance_policy":
            program.negative_balance_policy = policies[value]
        else:
            setattr(program, SETTING_FLAGS[dest], value)
    if args.update_mask is not None:
        paths = [path.strip() for path in args.update_mask.split(",") if path.strip()]
    else:
        paths = [SETTING_FLAGS[dest] for dest in given]
    return pb.UpdateProgramRequest(
        request_id=request_id,
        program=program,
        expected_revision=args.expected_revision,
        update_mask=FieldMask(paths=paths),
    )


def add_client_commands(
    client: Callable[..., None],
    rate: Callable[[str], pb.EarnRate],
    policies: Mapping[str, pb.NegativeBalancePolicy.ValueType],
    timeout: float,
) -> dict[str, ClientCall]:
    """Registers the commands through `client(name, help, *arguments)`; returns their calls."""
    client(
        "update-program",
        "change a program's settings: those given as flags, or those --update-mask names",
        PROGRAM,
        ("--display-name", {}),
        ("--rate", {"action": "append", "help": "CUR:POINTS[:PER_UNITS]; replaces all rates"}),
        ("--return-window-days", {"type": int}),
        ("--expiry-days", {"type": int}),
        ("--negative-balance-policy", {"choices": sorted(policies)}),
        ("--max-hold-ttl-seconds", {"type": int}),
        ("--time-zone", {"help": "IANA zone, e.g. Europe/Paris"}),
        (
            "--update-mask",
            {"help": "comma-separated Program fields to set (default: the flags given; * all)"},
        ),
        ("--expected-revision", {"type": int, "default": 0}),
    )
    client(
        "list-program-revisions",
        "list a program's revisions: who changed what, when",
        PROGRAM,
        ("--page-size", {"type": int, "default": 20}),
        ("--page-token", {"default": ""}),
        ("--oldest-first", {"action": "store_true"}),
    )
    client(
        "adjust",
        "add (positive) or remove (negative) points by hand",
        PROGRAM,
        MEMBER,
        ("points_delta", {"type": int}),
        ("--reason-code", {"default": "correction"}),
        ("--note", {"default": "", "help": "internal note; no personal data"}),
    )
    client(
        "transfer",
        "move points from one member to another",
        PROGRAM,
        ("source", {"help": "member id giving the points"}),
        ("destination", {"help": "member id receiving them"}),
        ("points", {"type": int}),
    )
    client(
        "reserve",
        "hold points for a redemption committed or canceled later",
        PROGRAM,
        MEMBER,
        ("reservation", {"help": "reservation id"}),
        ("points", {"type": int}),
        ("--ttl-seconds", {"type": int, "default": 0}),
    )
    client(
        "commit",
        "commit a reservation (all of it unless --points)",
        PROGRAM,
        MEMBER,
        ("reservation", {}),
        ("--points", {"type": int, "default": 0}),
    )
    client("cancel", "cancel a reservation", PROGRAM, MEMBER, ("reservation", {}))
    client("confirm", "confirm an order: its pending points now", PROGRAM, MEMBER, ("order", {}))
    client(
        "balance-as-of",
        "an account's balances at a point in time",
        PROGRAM,
        MEMBER,
        ("time", {"type": time_argument, "help": "RFC 3339, e.g. 2026-01-01T00:00:00Z"}),
    )
    return {
        "update-program": lambda stub, a, rid: stub.UpdateProgram(
            update_program_request(a, rid, rate, policies), timeout=timeout
        ),
        "list-program-revisions": lambda stub, a, _: stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(
                parent=program_name(a.program),
                page_size=a.page_size,
                page_token=a.page_token,
                order_by="revision" if a.oldest_first else "revision desc",
            ),
            timeout=timeout,
        ),
        "adjust": lambda stub, a, rid: stub.AdjustPoints(
            pb.AdjustPointsRequest(
                request_id=rid,
                account=account_name(a.program, a.member),
                points_delta=a.points_delta,
                reason_code=a.reason_code,
                note=a.note,
            ),
            timeout=timeout,
        ),
        "transfer": lambda stub, a, rid: stub.TransferPoints(
            pb.TransferPointsRequest(
                request_id=rid,
                source_account=account_name(a.program, a.source),
                destination_account=account_name(a.program, a.destination),
                points=a.points,
            ),
            timeout=timeout,
        ),
        "reserve": lambda stub, a, rid: stub.ReservePoints(
            pb.ReservePointsRequest(
                request_id=rid,
                account=account_name(a.program, a.member),
                reservation_id=a.reservation,
                points=a.points,
                ttl_seconds=a.ttl_seconds,
            ),
            timeout=timeout,
        ),
        "commit": lambda stub, a, rid: stub.CommitReservation(
            pb.CommitReservationRequest(
                request_id=rid,
                account=account_name(a.program, a.member),
                reservation_id=a.reservation,
                points=a.points,
            ),
            timeout=timeout,
        ),
        "cancel": lambda stub, a, rid: stub.CancelReservation(
            pb.CancelReservationRequest(
                request_id=rid,
                account=account_name(a.program, a.member),
                reservation_id=a.reservation,
            ),
            timeout=timeout,
        ),
        "confirm": lambda stub, a, rid: stub.ConfirmOrder(
            pb.ConfirmOrderRequest(
                request_id=rid, account=account_name(a.program, a.member), order_id=a.order
            ),
            timeout=timeout,
        ),
        "balance-as-of": lambda stub, a, _: stub.GetBalanceAsOf(
            pb.GetBalanceAsOfRequest(name=account_name(a.program, a.member), as_of_time=a.time),
            timeout=timeout,
        ),
    }
