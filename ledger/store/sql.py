"""The SQL files beside this module, read once."""

from functools import cache
from importlib import resources
from typing import LiteralString, cast


@cache
def query(name: str) -> LiteralString:
    text = resources.files("ledger.store").joinpath("queries", f"{name}.sql").read_text("utf-8")
    # The text is a file shipped with the package, never built from input.
    return cast(LiteralString, text)
