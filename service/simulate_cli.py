"""Client commands for SimulateProgramChange and its operations (google.longrunning), beside
the generic ones of service/cli_client.py, which speak to LedgerService alone:

    loyalty-ledger simulate PROGRAM --from T --to T (--revision N | --settings FILE) [--wait]
    loyalty-ledger operation NAME [--wait | --cancel | --delete]
    loyalty-ledger operations PROGRAM

Each prints the Operation (or the list) as JSON, its metadata and response unpacked.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2, json_format
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.cli_channel import add_connection_options, error_report, open_channel
from service.cli_client import time_argument
from service.names import program_name

WAIT_SECONDS = 60
MAX_WAITS = 24 * 60
"""--wait gives up after a day of waits, printing the operation as it stands."""


def add_simulation_commands(
    commands: "argparse._SubParsersAction[Any]", default_target: str
) -> None:
    def command(name: str, help_text: str, run: Callable[[argparse.Namespace], int]) -> Any:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--target", default=default_target, help="server address")
        add_connection_options(sub)
        sub.set_defaults(run=run)
        return sub

    simulate = command(
        "simulate",
        "start SimulateProgramChange on the server (a what-if replay, README 'What-if replay')"
        " and print its operation",
        _simulate,
    )
    simulate.add_argument("program", help="program id")
    for flag, what in (("--from", "first instant"), ("--to", "first instant after")):
        simulate.add_argument(
            flag,
            dest=flag[2:],
            required=True,
            type=time_argument,
            help=f"the period's {what}, RFC 3339 with its offset",
        )
    proposal = simulate.add_mutually_exclusive_group(required=True)
    proposal.add_argument(
        "--settings", type=Path, help="a JSON file of the proposed Program (proto3 JSON)"
    )
    proposal.add_argument("--revision", type=int, help="one of the program's own revisions")
    simulate.add_argument(
        "--update-mask", help="comma-separated Program fields the settings change (default: all)"
    )
    simulate.add_argument("--wait", action="store_true", help="print it once it is done")
    operation = command("operation", "show a long-running operation", _operation)
    operation.add_argument("name", help="programs/{program}/operations/{id}")
    action = operation.add_mutually_exclusive_group()
    action.add_argument("--wait", action="store_true", help="print it once it is done")
    action.add_argument("--cancel", action="store_true")
    action.add_argument("--delete", action="store_true")
    listed = command("operations", "list a program's long-running operations", _operations)
    listed.add_argument("program", help="program id")


def _simulate(args: argparse.Namespace) -> int:
    request = pb.SimulateProgramChangeRequest(
        program=program_name(args.program),
        revision=args.revision or 0,
        period_start_time=args.__dict__["from"],
        period_end_time=args.to,
    )
    if args.settings is not None:
        try:
            text = Path(args.settings).read_text(encoding="utf-8")
            json_format.Parse(text, request.proposed_program)
        except (OSError, UnicodeDecodeError, json_format.ParseError) as error:
            print(f"--settings {args.settings}: {error}", file=sys.stderr)
            return 2
    if args.update_mask is not None:
        paths = [path.strip() for path in args.update_mask.split(",") if path.strip()]
        request.update_mask.CopyFrom(FieldMask(paths=paths))

    def call(channel: grpc.Channel) -> Message:
        started: operations_pb2.Operation = ledger_pb2_grpc.LedgerServiceStub(
            channel
        ).SimulateProgramChange(request)
        return _waited(channel, started) if args.wait else started

    return _printed(args, call)


def _operation(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> Message:
        stub = _stub(channel)
        if args.cancel:
            stub.CancelOperation(operations_pb2.CancelOperationRequest(name=args.name))
        if args.delete:
            deleted: Message = stub.DeleteOperation(
                operations_pb2.DeleteOperationRequest(name=args.name)
            )
            return deleted
        found: operations_pb2.Operation = stub.GetOperation(
            operations_pb2.GetOperationRequest(name=args.name)
        )
        return _waited(channel, found) if args.wait else found

    return _printed(args, call)


def _operations(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> Message:
        listed: Message = _stub(channel).ListOperations(
            operations_pb2.ListOperationsRequest(name=program_name(args.program))
        )
        return listed

    return _printed(args, call)


def _stub(channel: grpc.Channel) -> Any:
    return operations_pb2_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]


def _waited(channel: grpc.Channel, operation: operations_pb2.Operation) -> Message:
    stub = _stub(channel)
    for _ in range(MAX_WAITS):
        if operation.done:
            break
        operation = stub.WaitOperation(
            operations_pb2.WaitOperationRequest(
                name=operation.name, timeout=duration_pb2.Duration(seconds=WAIT_SECONDS)
            ),
            timeout=WAIT_SECONDS + 10,
        )
    return operation


def _printed(args: argparse.Namespace, call: Callable[[grpc.Channel], Message]) -> int:
    with open_channel(args) as channel:
        try:
            response = call(channel)
        except grpc.RpcError as error:
            print(error_report(error), file=sys.stderr)
            return 1
    print(json_format.MessageToJson(response, always_print_fields_with_no_presence=True))
    return 0
