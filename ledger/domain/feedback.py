"""RecordFeedback: a member's survey scores, kept as an event on their account.

Scores only, never free text: a comment would be personal data in an append-only log. The
scales are the usual ones: NPS 0-10 (promoters 9-10, passives 7-8, detractors 0-6), CES 1-7
(customer effort) and CSAT 1-5 (satisfaction).
"""

from ledger.domain.errors import Violations

NPS_RANGE = (0, 10)
CES_RANGE = (1, 7)
CSAT_RANGE = (1, 5)
PROMOTER_LOWEST_NPS = 9
"""An NPS score of 9 or 10 makes a promoter (what the loyalty stage's affective stage and
the program's NPS count)."""


def check_score(
    violations: Violations, name: str, score: int | None, bounds: tuple[int, int]
) -> None:
    lowest, highest = bounds
    if score is not None and not lowest <= score <= highest:
        violations.add(name, f"must be {lowest} to {highest}", reason="SCORE_OUT_OF_RANGE")


def is_promoter(nps_score: int | None) -> bool:
    return nps_score is not None and nps_score >= PROMOTER_LOWEST_NPS
