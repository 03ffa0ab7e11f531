"""The ledger as it was before the renovation of the middle floor (the port, the codec, the
kinds; commit 17e3e96), unpacked beside the checkout so its service can be measured in the
same run as today's: a regression bought by the renovation shows as a ratio, whatever the
shared machine's speed that day."""

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.harness import ROOT

BASELINE_COMMIT = "17e3e96b25c53b15f767a09bb85f97994558ec46"
TREE = ROOT / ".bench" / "baseline"


@contextlib.contextmanager
def baseline_tree() -> Iterator[Path | None]:
    """The baseline's source with its generated code, or None where git does not have the
    commit (a shallow clone): the figure is then left out, saying why."""
    stamp = TREE / ".unpacked"
    if not stamp.exists():
        shutil.rmtree(TREE, ignore_errors=True)
        TREE.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", BASELINE_COMMIT],  # noqa: S607
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            yield None
            return
        subprocess.run(["tar", "-x", "-C", str(TREE)], input=archive.stdout, check=True)  # noqa: S607
        protos = sorted(str(path) for path in (TREE / "proto" / "loyalty" / "v1").glob("*.proto"))
        (TREE / "gen").mkdir()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{TREE / 'proto'}",
                f"--python_out={TREE / 'gen'}",
                f"--grpc_python_out={TREE / 'gen'}",
                *protos,
            ],
            check=True,
        )
        for folder in (TREE / "gen").rglob("*"):
            if folder.is_dir():
                (folder / "__init__.py").touch()
        stamp.touch()
    yield TREE


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
