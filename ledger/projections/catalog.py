"""The projections the ledger ships, by name.

A projection is a read model kept in two tables, ledger.{name}_a and ledger.{name}_b (the
live slot and the standby a rebuild fills), behind the view ledger.{name}, plus one SQL
statement that applies a page of events to a slot (see ledger/store/queries/projection_page.sql
for the page it is given). Applying a page is one statement, whatever the page's size.

A projection whose rules are the domain's (the loyalty stages) is `folded` instead: its page
is read, folded in Python through the domain and written back in one transaction, with the
checkpoint, by the store (ledger/store/stage_pages.py). A slot may hold further tables
(`companions`), emptied with it before a rebuild.

A projection may keep more tables (`parts`: ledger.{name}_{part}_a and _b, slotted, emptied
and swapped with the main one) and a `prelude`: steps of the same statement that run before
the apply step (common table expressions, each followed by a comma), where it writes to its
parts; a data-modifying step must be at the top of the statement, not inside the apply step.
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
    folded: bool = False
    """Applied by domain code in Python (ledger/store/stage_pages.py), not by one statement:
    then apply_package and apply_path are empty."""
    companions: tuple[str, ...] = ()
    """Names of the slot's other tables, each ledger.{companion}_{slot} (folded projections)."""
    parts: tuple[str, ...] = ()
    """Further tables of the view, named {name}_{part}_{slot}; the statement writes to each
    as {part}."""
    prelude_path: str = ""
    """The file (in apply_package) of the steps run before the apply step; "" for none."""

    def __post_init__(self) -> None:
        assert NAME_PATTERN.fullmatch(self.name), self.name
        assert self.folded != bool(self.apply_path), self
        assert all(NAME_PATTERN.fullmatch(name) for name in self.companions), self
        for part in self.parts:
            assert NAME_PATTERN.fullmatch(f"{self.name}_{part}"), part
            assert part not in ("view", "prelude", "apply"), part

    def table(self, slot: str) -> str:
        assert slot in SLOTS, slot
        return f"{self.name}_{slot}"

    def part_table(self, part: str, slot: str) -> str:
        assert slot in SLOTS and part in self.parts, (part, slot)
        return f"{self.name}_{part}_{slot}"

    def tables(self, slot: str) -> tuple[str, ...]:
        """Every table of the slot: the main one first, then the parts, then the companions."""
        return (
            self.table(slot),
            *(self.part_table(part, slot) for part in self.parts),
            *(f"{name}_{slot}" for name in self.companions),
        )


SLOTS = ("a", "b")

MEMBER_DIRECTORY = Projection(
    name="member_directory",
    apply_package="ledger.store",
    apply_path="queries/member_directory_apply.sql",
    description="per account: enrolment and last activity times, balances, stream version",
)

MEMBER_STAGES = Projection(
    name="member_stages",
    apply_package="",
    apply_path="",
    description="per account: loyalty stage and its history (ledger/domain/stages.py)",
    folded=True,
    companions=("member_stage_changes", "member_stage_programs", "member_stage_counts"),
)

PROGRAM_STATISTICS = Projection(
    name="program_statistics",
    apply_package="ledger.store",
    apply_path="queries/program_statistics_apply.sql",
    description="per program, period and currency: customers, orders, revenue, points,"
    " survey answers and referrals; per program: members per tier",
    parts=("marks", "buyers", "programs", "tiers"),
    prelude_path="queries/program_statistics_prelude.sql",
)

PROJECTIONS: dict[str, Projection] = {
    projection.name: projection
    for projection in (MEMBER_DIRECTORY, MEMBER_STAGES, PROGRAM_STATISTICS)
}
