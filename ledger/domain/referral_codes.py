"""Referral codes: how they are spelled, and how one typed by a person is read.

A code is 10 characters of the RFC 4648 base32 alphabet (A-Z and 2-7: no 0, 1, 8 or 9, so
no O/0 or I/1 confusion), 50 bits. It is derived from the member's pseudonymous key, which
is random (ledger/ids.py), so it cannot be computed from the member id; the ledger finds a
member by code through the erasable member link (ledger.members.referral_code), so a
forgotten member's code names nobody. Members linked before pseudonymous keys (whose key is
their id) keep the code they were shown: see README "Referrals".
"""

import base64
import hashlib
import re
from typing import Final

REFERRAL_CODE_LENGTH: Final = 10
REFERRAL_CODE_PATTERN: Final = re.compile(r"^[A-Z2-7]{10}$")
FINGERPRINT_PATTERN: Final = re.compile(r"^[0-9a-f]{64}$")
MAX_TYPED_CODE_LENGTH: Final = 32
"""A code as typed, with spaces and dashes, at most."""

_TYPOS = str.maketrans({"0": "O", "1": "I", "8": "B", "-": None, " ": None})


def referral_code(program_id: str, member_key: str) -> str:
    digest = hashlib.sha256(f"{program_id}/{member_key}".encode()).digest()
    return base64.b32encode(digest)[:REFERRAL_CODE_LENGTH].decode()


def normalized(typed: str) -> str:
    """The code a person meant: case, spaces and dashes ignored, and the digits the alphabet
    lacks read as the letters they look like (0 as O, 1 as I, 8 as B). The result may still
    not be a code (Enroll's validation says so)."""
    if len(typed) > MAX_TYPED_CODE_LENGTH:
        return typed
    return typed.upper().translate(_TYPOS)
