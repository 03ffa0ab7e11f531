"""The SQL files beside this module, read once."""

from functools import cache
from importlib import resources
from typing import LiteralString


@cache
def query(name: str) -> LiteralString:
    text = resources.files("ledger.store").joinpath("queries", f"{name}.sql").read_text("utf-8")
    # A LiteralString by nature: a file shipped with the package, never built from input
    # (mypy does not tell LiteralString from str, so no cast is needed or accepted).
    return text
