"""Callers files and bearer tokens for tests, as a storefront would hold them."""

from service.callers import token_hash
from service.cli_channel import CallMetadata


def callers_toml(*callers: tuple[str, str, list[str], list[str]]) -> str:
    """A callers file: (name, token, scopes, programs) per caller."""
    parts = []
    for name, token, scopes, programs in callers:
        parts.append(
            f'[[callers]]\nname = "{name}"\nscopes = {scopes!r}\nprograms = {programs!r}\n'
            f'[[callers.tokens]]\nsha256 = "{token_hash(token)}"\n'
        )
    return "\n".join(parts).replace("'", '"')


def bearer_token(token: str) -> CallMetadata:
    """Sends `authorization: Bearer <token>` with every call, as the terminal client does."""
    return CallMetadata([("authorization", f"Bearer {token}")])
