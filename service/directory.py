"""ListAccounts: a program's accounts from the member directory, paged (AIP-158) and filtered.

The directory is a projection a moment behind the log (ledger/projections/member_directory.py):
an account appears, and its balances move, shortly after the calls that changed them.
"""

import base64
import hashlib
import json

from ledger.application import Ledger
from ledger.domain.errors import Violations
from ledger.domain.limits import MAX_ID_LENGTH
from ledger.domain.referral_codes import referral_code
from ledger.projections.member_directory import DirectoryEntry, DirectoryQuery
from loyalty.v1 import ledger_pb2 as pb
from service import mapping, stage_mapping
from service.account_filter import check_names, parse_filter
from service.names import account_name, parse_program

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
"""A larger page_size is coerced to this (AIP-158)."""
MAX_PAGE_TOKEN_LENGTH = 512
TOKEN_VERSION = 1


def _fingerprint(parent: str, filter_text: str) -> str:
    """What a page token is bound to: the request's parent and filter, as the caller wrote
    them (AIP-158: a token is refused with other query parameters; page_size may change)."""
    digest = hashlib.sha256(json.dumps([parent, filter_text]).encode()).hexdigest()
    return digest[:32]


def encode_token(after_member_id: str, fingerprint: str) -> str:
    document = json.dumps({"v": TOKEN_VERSION, "after": after_member_id, "query": fingerprint})
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode_token(token: str, fingerprint: str, found: Violations) -> str:
    """The member id a token continues after ("" for no token, or for a bad one, which is
    added to `found`)."""
    if not token:
        return ""
    document: object = None
    if len(token) <= MAX_PAGE_TOKEN_LENGTH and token.isascii():
        try:
            document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except ValueError:
            document = None
    if (
        not isinstance(document, dict)
        or document.get("v") != TOKEN_VERSION
        or not isinstance(document.get("after"), str)
        or not isinstance(document.get("query"), str)
        or not 0 < len(document["after"]) <= MAX_ID_LENGTH
    ):
        found.add("page_token", "is not a token this service returned", reason="PAGE_TOKEN_INVALID")
        return ""
    if document["query"] != fingerprint:
        found.add(
            "page_token",
            "was returned for another parent or filter; start again without a token",
            reason="PAGE_TOKEN_MISMATCH",
        )
        return ""
    after: str = document["after"]
    return after


def _account(program_id: str, entry: DirectoryEntry) -> pb.Account:
    message = pb.Account(
        name=account_name(program_id, entry.member_id),
        balances=mapping.balances(entry.balances),
        version=entry.version,
        referral_code=referral_code(program_id, entry.member_key),
    )
    if entry.enroll_time is not None:
        message.enroll_time.CopyFrom(mapping.timestamp(entry.enroll_time))
    if entry.last_activity_time is not None:
        message.last_activity_time.CopyFrom(mapping.timestamp(entry.last_activity_time))
    stage_mapping.fill_stage(message, entry.stage, entry.stage_time)
    if entry.tier is not None:
        # Only the name: the directory keeps no terms, perks or figures (GetAccount has them).
        message.tier.tier = entry.tier
    return message


class AccountDirectory:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def list_accounts(self, request: pb.ListAccountsRequest) -> pb.ListAccountsResponse:
        found = Violations()
        program_id = parse_program(request.parent, "parent", found)
        if request.page_size < 0:
            found.add("page_size", "must not be negative", reason="PAGE_SIZE_OUT_OF_RANGE")
        page_size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        bounds = parse_filter(request.filter, found)
        fingerprint = _fingerprint(request.parent, request.filter)
        after = decode_token(request.page_token, fingerprint, found)
        found.raise_if_any()
        program = await self._ledger.get_program(program_id, "parent")
        tiers = tuple(tier.name for tier in program.state.settings.tiers.levels)
        check_names(bounds.texts, {"tier": tiers})
        entries = await self._ledger.list_accounts(
            DirectoryQuery(
                program_id, after, page_size + 1, bounds.integers, bounds.times, bounds.texts
            )
        )
        page = entries[:page_size]
        return pb.ListAccountsResponse(
            accounts=[_account(program_id, entry) for entry in page],
            next_page_token=encode_token(page[-1].member_id, fingerprint)
            if len(entries) > page_size
            else "",
        )
