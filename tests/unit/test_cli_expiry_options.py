"""loyalty-ledger create-program carries the program's expiry policy to CreateProgram."""

from typing import Any

from loyalty.v1 import ledger_pb2 as pb
from service import cli


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def CreateProgram(self, request: pb.CreateProgramRequest, timeout: float) -> None:  # noqa: N802
        self.sent.append(request)


def test_create_program_sends_the_expiry_rounding_and_inactivity_policy() -> None:
    args = cli._parser().parse_args(
        [
            "create-program",
            "shop",
            "--rate=USD:1",
            "--expiry-days=365",
            "--expiry-rounding=end_of_year",
            "--inactivity-expiry-days=540",
            "--qualifying-activity=purchase",
            "--qualifying-activity=redemption",
        ]
    )
    stub = Recorder()

    cli.CLIENT_CALLS["create-program"](stub, args, "request-1")  # type: ignore[arg-type]

    [request] = stub.sent
    assert request.program.points_expiry_days == 365
    assert request.program.expiry_rounding == pb.EXPIRY_ROUNDING_END_OF_YEAR
    assert request.program.inactivity_expiry_days == 540
    assert list(request.program.qualifying_activities) == [
        pb.QUALIFYING_ACTIVITY_PURCHASE,
        pb.QUALIFYING_ACTIVITY_REDEMPTION,
    ]
