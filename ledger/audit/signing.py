"""The Ed25519 key pair that signs checkpoints, held in files outside the database: whoever
holds the database's superuser password can rewrite the log and recompute its hashes, but
cannot sign a checkpoint over the result without the private key."""

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyProblem(Exception):
    """A key file that is missing, unreadable or not an Ed25519 key; the message names it."""


def key_id(public_raw: bytes) -> bytes:
    """What names a key in a checkpoint: the SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_raw).digest()


@dataclass(frozen=True)
class PublicKey:
    raw: bytes
    """The 32 bytes of RFC 8032."""

    @property
    def key_id(self) -> bytes:
        return key_id(self.raw)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Signer:
    """The private key, read from its file once."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = PublicKey(
            private_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def load_signer(path: Path) -> Signer:
    """The private key in `path` (PEM, PKCS#8, unencrypted: the file's permissions and the
    secret store that mounts it are its protection)."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyProblem(f"{path}: not a PEM private key without a password ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path}: not an Ed25519 key")
    return Signer(key)


def load_public_keys(path: Path) -> list[PublicKey]:
    """The public keys in `path`: one PEM block (SubjectPublicKeyInfo) after another, the
    current key and those that signed older checkpoints; or a private key's file, whose public
    half is taken."""
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        return [load_signer(path).public_key]
    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        raise KeyProblem(f"{path}: holds no PEM public key")
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block)
        except ValueError as error:
            raise KeyProblem(f"{path}: not a PEM public key ({error})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyProblem(f"{path}: not an Ed25519 key")
        keys.append(
            PublicKey(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        )
    return keys


_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\s*", re.DOTALL)


def generate_key_pair(private_path: Path, public_path: Path) -> PublicKey:
    """Writes a new key pair; the private key readable by its owner only. Refuses to
    overwrite either file: a lost key is a lost way to sign."""
    for path in (private_path, public_path):
        if path.exists():
            raise KeyProblem(f"{path}: exists already; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as private_file:
            private_file.write(private_pem)
        signer = Signer(key)
        public_path.write_bytes(signer.public_key.pem())
    except OSError as error:
        raise KeyProblem(f"cannot write the key pair: {error}") from None
    return signer.public_key


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyProblem(f"{path}: the {what} file cannot be read ({error.strerror})") from None
