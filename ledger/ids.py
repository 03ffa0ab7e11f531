"""Random identifiers as text, without building uuid.UUID objects on the write path."""

import base64
import os

# The RFC 4122 variant puts 10 in the top two bits of the 17th hex digit: 8, 9, a or b.
_VARIANT_DIGIT = "89ab" * 4


def random_uuid() -> str:
    """A version-4 UUID as lower-case hyphenated text, like str(uuid.uuid4()) (the same bits
    are random and the same are fixed) in about a third of the time: every appended event
    takes one, and only its text is ever needed."""
    digits = os.urandom(16).hex()
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
        f"{_VARIANT_DIGIT[int(digits[16], 16)]}{digits[17:20]}-{digits[20:]}"
    )


def new_member_key() -> str:
    """A pseudonymous member key: '~' and 26 base32 characters (130 random bits), the shape
    of ledger.domain.patterns.MEMBER_KEY."""
    return "~" + base64.b32encode(os.urandom(17)).decode()[:26].lower()


def new_redemption_code() -> str:
    """A reward's redemption code: 100 random bits as 20 base32 characters in groups of
    four (RWRD-XXXX-XXXX-XXXX-XXXX-XXXX is too long to type; XXXX-XXXX-XXXX-XXXX-XXXX is
    what a till operator reads out), unguessable by a member trying codes."""
    text = base64.b32encode(os.urandom(13)).decode()[:20]
    return "-".join(text[index : index + 4] for index in range(0, 20, 4))
