"""The writers' rendering of event documents, which the hash chain covers byte for byte."""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.codec.chain import jsonb_document

# What json.dumps writes with jsonb's separators and raw (not escaped) non-ASCII text; the
# integration test test_canonical_text.py holds this spelling to PostgreSQL's own.
REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_documents_render_as_the_reference_encoder_writes_them(document: dict[str, Any]) -> None:
    assert jsonb_document(document) == REFERENCE.encode(document)
