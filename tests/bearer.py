"""A client that sends a bearer token on every call, as a storefront's would."""

from collections.abc import Callable
from typing import Any

import grpc

from service.callers import token_hash


def callers_toml(*callers: tuple[str, str, list[str], list[str]]) -> str:
    """A callers file: (name, token, scopes, programs) per caller."""
    parts = []
    for name, token, scopes, programs in callers:
        parts.append(
            f'[[callers]]\nname = "{name}"\nscopes = {scopes!r}\nprograms = {programs!r}\n'
            f'[[callers.tokens]]\nsha256 = "{token_hash(token)}"\n'
        )
    return "\n".join(parts).replace("'", '"')


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, details: Any) -> Any:
        return details._replace(metadata=tuple(details.metadata or ()) + self._metadata)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)
