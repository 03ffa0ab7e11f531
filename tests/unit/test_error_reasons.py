"""Every ErrorInfo reason the code can produce is listed in the README's "Error reasons", and
every reason listed there is one the code can produce: callers branch on them."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASON = re.compile(r"[A-Z][A-Z0-9_]+")
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \|")
ERROR_CLASSES_RAISED_WITH_THEIR_OWN_REASON = {
    "Conflict",
    "FeedClosed",
    "InvalidArgument",
    "StoreTimeout",
    "StoreUnavailable",
    "TooManySubscribers",
}
"""Classes some code raises without naming a reason, so their class's reason is produced."""


def _constants(node: ast.AST) -> set[str]:
    return {
        child.value
        for child in ast.walk(node)
        if isinstance(child, ast.Constant)
        and isinstance(child.value, str)
        and REASON.fullmatch(child.value)
    }


def _reasons_in(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "reason":
            found |= _constants(node.value)
        elif isinstance(node, ast.ClassDef) and node.name in (
            ERROR_CLASSES_RAISED_WITH_THEIR_OWN_REASON
        ):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and any(
                    isinstance(target, ast.Name) and target.id == "reason"
                    for target in statement.targets
                ):
                    found |= _constants(statement.value)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {target.id for target in targets if isinstance(target, ast.Name)}
            # GROUP_REASONS, and constants named *REASON that `reason=` arguments name.
            if node.value is not None and any(
                name.endswith(("REASON", "REASONS")) for name in names
            ):
                found |= _constants(node.value)
    return found


def code_reasons() -> set[str]:
    found: set[str] = set()
    for package in ("ledger", "service"):
        for path in (ROOT / package).rglob("*.py"):
            found |= _reasons_in(ast.parse(path.read_text()))
    return found


def readme_reasons() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Error reasons", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return {match.group(1) for line in section.splitlines() if (match := ROW.match(line))}


def test_every_reason_the_code_produces_is_in_the_readme_and_nothing_else() -> None:
    code, readme = code_reasons(), readme_reasons()

    assert code - readme == set(), "reasons missing from README 'Error reasons'"
    assert readme - code == set(), "reasons in README 'Error reasons' no code produces"


def test_the_scan_finds_the_reasons_it_must() -> None:
    reasons = code_reasons()

    assert {
        "POINTS_NOT_POSITIVE",
        "HOLD_TTL_OVER_PROGRAM_MAX",
        "SEVERAL_FIELDS_INVALID",
        "PROGRAM_SETTING_INVALID",
        "VERSION_CONFLICT",
        "CALLER_RATE_EXCEEDED",
        "TOKEN_EXPIRED",
    } <= reasons
