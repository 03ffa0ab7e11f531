"""The ledger as it was before a change that must not cost speed, unpacked beside the
checkout so its service can be measured in the same run as today's: a regression bought by
the change shows as a ratio, whatever the shared machine's speed that day."""

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import ROOT


@dataclass(frozen=True)
class Baseline:
    commit: str
    change: str
    """What came after it, as the figure names it."""
    target: float
    """Today's earn/health ratio must be at least this fraction of the baseline's."""

    @property
    def tree(self) -> Path:
        return ROOT / ".bench" / f"baseline-{self.commit[:7]}"


BASELINES = (
    Baseline(
        "17e3e96b25c53b15f767a09bb85f97994558ec46",
        "the renovation (port, codec, kinds)",
        0.9,
    ),
    Baseline("0393d8aa953c75a4bd57a51480ae1b08def54187", "pseudonymous member keys", 0.95),
)


@contextlib.contextmanager
def baseline_tree(baseline: Baseline) -> Iterator[Path | None]:
    """The baseline's source with its generated code, or None where git does not have the
    commit (a shallow clone): the figure is then left out, saying why."""
    tree = baseline.tree
    stamp = tree / ".unpacked"
    if not stamp.exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", baseline.commit],  # noqa: S607
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            yield None
            return
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)  # noqa: S607
        protos = sorted(str(path) for path in (tree / "proto" / "loyalty" / "v1").glob("*.proto"))
        (tree / "gen").mkdir()
        # Trees since the long-running operations vendor the googleapis files they import.
        third_party = tree / "third_party" / "googleapis"
        includes = [f"-I{tree / 'proto'}", *([f"-I{third_party}"] if third_party.is_dir() else [])]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                *includes,
                f"--python_out={tree / 'gen'}",
                f"--grpc_python_out={tree / 'gen'}",
                *protos,
            ],
            check=True,
        )
        for folder in (tree / "gen").rglob("*"):
            if folder.is_dir():
                (folder / "__init__.py").touch()
        stamp.touch()
    yield tree


def python_path(tree: Path) -> str:
    """What PYTHONPATH makes the baseline's packages win over today's (the development venv
    puts today's checkout on the path through a .pth file, which comes after PYTHONPATH)."""
    return f"{tree}:{tree / 'gen'}"


def migrate(tree: Path, database_url: str) -> None:
    """The baseline's own migrations: its schema, not today's, under its service."""
    subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate"],
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database_url,
            "PYTHONPATH": python_path(tree),
        },
        cwd=tree,
        check=True,
        capture_output=True,
        timeout=120,
    )
