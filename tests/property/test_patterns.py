"""The C-speed id check agrees with the pattern it stands for."""

from hypothesis import example, given
from hypothesis import strategies as st

from ledger.domain.limits import MAX_ID_LENGTH
from ledger.domain.patterns import EXTERNAL_ID_PATTERN, is_external_id

# Mostly around the printable ASCII range's edges (space, DEL, controls, Latin-1 and beyond),
# with lengths around the limit.
_CHARACTERS = st.characters(max_codepoint=0x10FF) | st.sampled_from(
    ["\x7f", "\x20", "\x21", "\x7e"]
)


@given(st.text(_CHARACTERS, max_size=MAX_ID_LENGTH + 2))
@example("")
@example(" ")
@example("a b")
@example("sku\x7f")
@example("caf\u00e9")
@example("x" * MAX_ID_LENGTH)
@example("x" * (MAX_ID_LENGTH + 1))
@example("line\n")
def test_is_external_id_agrees_with_the_pattern(text: str) -> None:
    assert is_external_id(text) == bool(EXTERNAL_ID_PATTERN.fullmatch(text))
