"""constraints.txt (`make constraints`) pins what an image installs with the wheel: a pin that
no longer satisfies [project.dependencies] would make that install fail or drift."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)$")


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match["name"])] = Version(match["version"])
    return pins


def _runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    pins = _pins()
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is a dependency but not pinned"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement}: run `make constraints`"
        )
    # psycopg[binary] brings libpq inside psycopg-binary: an image has no other libpq.
    assert pins[canonicalize_name("psycopg-binary")] == pins[canonicalize_name("psycopg")]


def test_no_development_tool_is_pinned_for_the_image() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    development = {
        canonicalize_name(Requirement(text).name)
        for text in project["optional-dependencies"]["dev"]
    }
    runtime = {canonicalize_name(r.name) for r in _runtime_requirements()}
    assert not (set(_pins()) & (development - runtime))
