"""RecordAction against EarnPoints through gRPC, alternated on the same server and accounts.

Both append one event to one account; RecordAction also finds the action's rule, checks its
caps against the account's counters and writes the periods it counted under. The ratio shows
what that costs.
"""

import statistics
from typing import TYPE_CHECKING, Any

from benchmarks.harness import alternated_runs, run_load

if TYPE_CHECKING:
    from benchmarks.__main__ import Figure, Sizes
    from benchmarks.harness import Service


def bench_action(
    service: "Service", accounts_path: Any, sizes: "Sizes", figure: type["Figure"]
) -> "Figure":
    run_load(
        service.target,
        "action",
        callers=sizes.callers,
        seconds=sizes.load_seconds / 2,
        accounts_file=accounts_path,
    )
    runs = alternated_runs(
        service.target,
        {"earn": ("earn", accounts_path), "action": ("action", accounts_path)},
        callers=sizes.callers,
        seconds=sizes.load_seconds,
        repeats=sizes.repeats,
    )
    earn = statistics.median(run["per_second"] for run in runs["earn"])
    action = statistics.median(run["per_second"] for run in runs["action"])
    rates = {
        kind: " / ".join(f"{run['per_second']:,.0f}" for run in kind_runs)
        for kind, kind_runs in runs.items()
    }
    return figure(
        "RecordAction vs EarnPoints through gRPC",
        action,
        earn,
        "calls/s",
        ">= 0.8x",
        action / earn >= 0.8 if earn else False,
        f"{sizes.callers} callers, the same accounts; an action with a day and a month cap"
        f" never reached; medians of {sizes.repeats} alternated runs (earn {rates['earn']},"
        f" action {rates['action']} calls/s)",
    )
