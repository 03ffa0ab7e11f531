"""TLS with certificates made here: clients verify the server, the server (under mutual TLS)
verifies clients and knows them by their certificate's name, and a renewed certificate is
served to new connections without a restart."""

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import RunningServer, start_server
from tests.conftest import FakeClock, request_id, unique

CLIENT_NAME = "pos.acme.internal"


@dataclass(frozen=True)
class Issued:
    certificate: bytes
    key: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, issuer: Issued | None, *, ca: bool = False, server: bool = False
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    if issuer is None:
        signing_key, issuer_name = key, _name(subject)
    else:
        signing_key = serialization.load_pem_private_key(issuer.key, None)  # type: ignore[assignment]
        issuer_name = x509.load_pem_x509_certificate(issuer.certificate).subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    elif not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    certificate = builder.sign(signing_key, hashes.SHA256())
    return Issued(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass
class Tls:
    running: RunningServer
    ca: Issued
    client: Issued
    server_files: tuple[Path, Path]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def channel(self, client: Issued | None) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.ca.certificate,
            private_key=client.key if client else None,
            certificate_chain=client.certificate if client else None,
        )
        return grpc.aio.secure_channel(self.target, credentials)


@pytest.fixture
async def tls(database_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Tls]:
    ca = _issue("test-ca", None, ca=True)
    server = _issue("loyalty-ledger", ca, server=True)
    client = _issue(CLIENT_NAME, ca)
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.certificate)
    paths["cert"].write_bytes(server.certificate)
    paths["key"].write_bytes(server.key)
    callers = (
        f'[[callers]]\nname = "pos-eu"\nscopes = ["admin", "read", "write"]\nprograms = ["*"]\n'
        f'certificate_names = ["{CLIENT_NAME}"]\n'
    )
    settings = Settings(
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        callers=callers,
        tls_cert_file=str(paths["cert"]),
        tls_key_file=str(paths["key"]),
        tls_client_ca_file=str(paths["ca"]),
    )
    running = await start_server(settings, database_url, now=clock)
    yield Tls(running, ca, client, (paths["cert"], paths["key"]))
    await running.stop(1)


async def test_a_client_known_by_its_certificate_is_served_and_is_the_actor(tls: Tls) -> None:
    program_id = unique("prog")
    async with tls.channel(tls.client) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        await stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id=program_id)
        )
        revisions = await stub.ListProgramRevisions(
            pb.ListProgramRevisionsRequest(parent=f"programs/{program_id}")
        )

    assert [revision.actor for revision in revisions.revisions] == ["pos-eu"]


async def test_a_client_without_a_certificate_or_without_tls_is_turned_away(tls: Tls) -> None:
    request = pb.GetProgramRequest(name="programs/anything")
    async with tls.channel(None) as without_certificate:
        with pytest.raises(grpc.aio.AioRpcError) as no_certificate:
            await ledger_pb2_grpc.LedgerServiceStub(without_certificate).GetProgram(
                request, timeout=5
            )
    async with grpc.aio.insecure_channel(tls.target) as plaintext:
        with pytest.raises(grpc.aio.AioRpcError) as no_tls:
            await ledger_pb2_grpc.LedgerServiceStub(plaintext).GetProgram(request, timeout=5)

    assert no_certificate.value.code() == grpc.StatusCode.UNAVAILABLE
    assert no_tls.value.code() == grpc.StatusCode.UNAVAILABLE


def _served_certificate(tls: Tls, tmp_path: Path) -> bytes:
    """The certificate a new TLS connection is handed, in DER."""
    (tmp_path / "client.pem").write_bytes(tls.client.certificate + tls.client.key)
    context = ssl.create_default_context(cadata=tls.ca.certificate.decode())
    context.load_cert_chain(tmp_path / "client.pem")
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", tls.running.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as wrapped,
    ):
        served = wrapped.getpeercert(binary_form=True)
    assert served is not None
    return served


def _der(issued: Issued) -> bytes:
    return x509.load_pem_x509_certificate(issued.certificate).public_bytes(
        serialization.Encoding.DER
    )


async def test_a_renewed_certificate_is_served_to_new_connections_without_a_restart(
    tls: Tls, tmp_path: Path
) -> None:
    first = await asyncio.to_thread(_served_certificate, tls, tmp_path)
    renewed = _issue("loyalty-ledger", tls.ca, server=True)
    certificate_path, key_path = tls.server_files
    key_path.write_bytes(renewed.key)
    certificate_path.write_bytes(renewed.certificate)

    second = await asyncio.to_thread(_served_certificate, tls, tmp_path)
    async with tls.channel(tls.client) as channel:  # and gRPC clients trust it as before
        missing = await _code_of_get_program(channel)

    assert first != second
    assert second == _der(renewed)
    assert missing == grpc.StatusCode.NOT_FOUND


async def _code_of_get_program(channel: grpc.aio.Channel) -> grpc.StatusCode:
    try:
        await ledger_pb2_grpc.LedgerServiceStub(channel).GetProgram(
            pb.GetProgramRequest(name="programs/no-such-program"), timeout=5
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_the_terminal_client_speaks_mutual_tls(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service import cli

    files = {}
    for name, content in (
        ("ca", tls.ca.certificate),
        ("cert", tls.client.certificate),
        ("key", tls.client.key),
    ):
        files[name] = tmp_path / f"client-{name}.pem"
        files[name].write_bytes(content)
    program_id = unique("prog")
    arguments = [
        "--target", f"localhost:{tls.running.port}",
        "--tls-ca", str(files["ca"]), "--tls-cert", str(files["cert"]),
        "--tls-key", str(files["key"]),
    ]  # fmt: skip

    code = await asyncio.to_thread(
        cli.main, ["create-program", program_id, "--rate", "USD:1", *arguments]
    )
    created = capsys.readouterr()

    assert code == 0, created.err
    assert f"programs/{program_id}" in created.out
