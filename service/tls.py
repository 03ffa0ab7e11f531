"""Server TLS from PEM files, re-read when they change: cert-manager renews a certificate by
rewriting its Secret, and new connections get the new one with no restart (connections open
keep theirs until they close; `max_connection_age` bounds that)."""

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    certificate_chain: Path
    private_key: Path
    client_ca: Path | None = None
    """When set, clients must present a certificate signed by it (mutual TLS)."""

    def paths(self) -> tuple[Path, ...]:
        return (self.certificate_chain, self.private_key) + (
            (self.client_ca,) if self.client_ca else ()
        )


def _stamp(files: TlsFiles) -> tuple[tuple[int, int], ...]:
    return tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in files.paths())


def _configuration(files: TlsFiles) -> "grpc.ServerCertificateConfiguration":
    # Checked here first: grpc would take a key that does not match its certificate, and
    # every handshake after it would fail.
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
        files.certificate_chain, files.private_key
    )
    return grpc.ssl_server_certificate_configuration(
        [(files.private_key.read_bytes(), files.certificate_chain.read_bytes())],
        root_certificates=files.client_ca.read_bytes() if files.client_ca else None,
    )


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Credentials whose certificate is looked at again on every new connection's handshake
    and re-read once its files changed; a half-written file keeps the previous one."""
    seen = [_stamp(files)]
    initial = _configuration(files)

    def fetch() -> "grpc.ServerCertificateConfiguration | None":
        try:
            stamp = _stamp(files)
            if stamp == seen[0]:
                return None
            configuration = _configuration(files)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            log.error("tls_files_unreadable", error=str(error))
            return None
        seen[0] = stamp
        log.info("tls_certificate_reloaded", certificate=str(files.certificate_chain))
        return configuration

    return grpc.dynamic_ssl_server_credentials(
        initial,
        fetch,  # type: ignore[arg-type]  # None means "no change", as grpc documents
        require_client_authentication=files.client_ca is not None,
    )
