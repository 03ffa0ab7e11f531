"""The projections the ledger ships, by name.

A projection is a read model kept in two tables, ledger.{name}_a and ledger.{name}_b (the
live slot and the standby a rebuild fills), behind the view ledger.{name}, plus one SQL
statement that applies a page of events to a slot (see ledger/store/queries/projection_page.sql
for the page it is given). Applying a page is one statement, whatever the page's size.
"""

import re
from dataclasses import dataclass

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""Projection names become table names (with a slot suffix): short, lower case, no quoting."""


@dataclass(frozen=True)
class Projection:
    name: str
    apply_package: str
    """The package holding the file of the statement that applies a page..."""
    apply_path: str
    """...and the file's path in it. The statement writes to {view}, the slot's table."""
    description: str

    def __post_init__(self) -> None:
        assert NAME_PATTERN.fullmatch(self.name), self.name

    def table(self, slot: str) -> str:
        assert slot in SLOTS, slot
        return f"{self.name}_{slot}"


SLOTS = ("a", "b")

MEMBER_DIRECTORY = Projection(
    name="member_directory",
    apply_package="ledger.store",
    apply_path="queries/member_directory_apply.sql",
    description="per account: enrolment and last activity times, balances, stream version",
)

PROJECTIONS: dict[str, Projection] = {MEMBER_DIRECTORY.name: MEMBER_DIRECTORY}
