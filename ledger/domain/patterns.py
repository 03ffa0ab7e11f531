"""The shapes of every identifier the ledger accepts, defined once.

Each is a regular expression over the whole value (used with fullmatch); the service builds
its resource-name patterns (programs/{program_id}/accounts/{member_id}) from the same texts.
Member ids never hold '$': stream ids starting with '$' name streams of other kinds.
"""

import re
from typing import Final

from ledger.domain.limits import MAX_CODE_LENGTH, MAX_ID_LENGTH, MAX_PROGRAM_ID_LENGTH

PROGRAM_ID: Final = rf"[a-z][a-z0-9-]{{0,{MAX_PROGRAM_ID_LENGTH - 1}}}"
MEMBER_ID: Final = rf"[A-Za-z0-9._:@+-]{{1,{MAX_ID_LENGTH}}}"
CODE: Final = rf"[a-z0-9_]{{1,{MAX_CODE_LENGTH}}}"
"""Reason codes, import kinds: lower-case words."""
CURRENCY_CODE: Final = r"[A-Z]{3}"
EXTERNAL_ID: Final = rf"[\x21-\x7e]{{1,{MAX_ID_LENGTH}}}"
"""Caller-chosen ids (orders, reservations, request ids): printable ASCII, no spaces or
controls (PostgreSQL cannot even store a NUL)."""
EVENT_TYPE: Final = r"[A-Z][A-Za-z0-9]{0,63}"
MEMBER_KEY_PREFIX: Final = "~"
"""Pseudonymous member keys start with it; no member id can (nor a stream of another kind)."""
MEMBER_KEY: Final = r"~[a-z2-7]{26}"
"""A member's pseudonymous key: 130 random bits in base32, given at enrollment."""

PROGRAM_ID_PATTERN: Final = re.compile(f"^{PROGRAM_ID}$")
MEMBER_ID_PATTERN: Final = re.compile(f"^{MEMBER_ID}$")
CODE_PATTERN: Final = re.compile(f"^{CODE}$")
CURRENCY_PATTERN: Final = re.compile(f"^{CURRENCY_CODE}$")
EXTERNAL_ID_PATTERN: Final = re.compile(f"^{EXTERNAL_ID}$")
EVENT_TYPE_PATTERN: Final = re.compile(f"^{EVENT_TYPE}$")
MEMBER_KEY_PATTERN: Final = re.compile(f"^{MEMBER_KEY}$")
MEMBER_PATTERN: Final = re.compile(f"^(?:{MEMBER_ID}|{MEMBER_KEY})$")
"""A command's member fields: the caller's id before the ledger's translation, the member's
key after it (ledger/members.py)."""
