"""The layering the design names, checked on every run: ledger.domain imports nothing outside
the standard library; the contracts of [tool.importlinter] in pyproject.toml (the ledger never
imports gRPC, only ledger.store imports the PostgreSQL driver, the application reaches the
event log only through its port, the service never imports the store) all hold."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOMAIN = ROOT / "ledger" / "domain"


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module is not None
            found.add(node.module)
    return found


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    outside = {
        (path.name, module)
        for path in sorted(DOMAIN.glob("*.py"))
        for module in _imported(path)
        if module.split(".")[0] not in sys.stdlib_module_names
        and not (module == "ledger.domain" or module.startswith("ledger.domain."))
    }

    assert outside == set()


def test_the_check_above_sees_an_import_from_outside() -> None:
    sample = DOMAIN / "account.py"
    assert "ledger.domain.events" in _imported(sample)
    assert "dataclasses" in _imported(sample)


def test_the_import_contracts_hold() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 broken" in completed.stdout.split("Contracts:")[-1].split("\n")[0]
