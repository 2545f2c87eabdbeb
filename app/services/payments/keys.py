"""RSA keys for payments: loading Alipay's and ours from any usual form, making the sandbox's."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from flask import Flask

KEY_BITS = 2048
# RSA2 is SHA256withRSA on keys of 2048 bits; Alipay issues nothing smaller.
MIN_KEY_BITS = 2048
SANDBOX_DIR = "sandbox"
LOCK_NAME = ".keys.lock"
EXTENSION = "payments"

_cache_lock = threading.Lock()


class KeyFormatError(ValueError):
    """A key that cannot be used: not RSA, not a key at all, encrypted, or too small."""


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True)
class SandboxKeys:
    """The app's pair (signs our requests) and the sandbox gateway's (signs notifications)."""

    app: KeyPair
    gateway: KeyPair


@dataclass(frozen=True)
class AlipayKeys:
    app_private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey


def _text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise KeyFormatError("a key must be PEM or base64 text, not binary data") from exc
    return data


def _bare_der(text: str) -> bytes:
    """Alipay's console hands keys out as one line of base64 without PEM armour."""
    compact = "".join(text.split())
    if not compact:
        raise KeyFormatError("the key is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("the key is neither PEM nor base64") from exc


def _check_size(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, kind: str) -> None:
    if key.key_size < MIN_KEY_BITS:
        raise KeyFormatError(
            f"the {kind} key has {key.key_size} bits; RSA2 needs {MIN_KEY_BITS} or more"
        )


def load_private_key(data: str | bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8) or bare base64 DER of either."""
    text = _text(data).strip()
    if "-----BEGIN" in text:
        if "ENCRYPTED" in text:
            raise KeyFormatError("the private key is encrypted; give it without a passphrase")
        if "PRIVATE KEY-----" not in text:
            raise KeyFormatError("expected a private key (BEGIN PRIVATE KEY or RSA PRIVATE KEY)")
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"the private key PEM cannot be read: {exc}") from exc
    else:
        # load_der_private_key reads both PKCS#8 and PKCS#1 ("traditional") DER.
        der = _bare_der(text)
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(
                "the base64 text is not an RSA private key (PKCS#1 or PKCS#8)"
            ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("the private key is not an RSA key (RSA2 needs RSA)")
    _check_size(key, "private")
    return key


def load_public_key(data: str | bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1) or bare base64 DER."""
    text = _text(data).strip()
    if "-----BEGIN" in text:
        if "CERTIFICATE-----" in text:
            raise KeyFormatError(
                "a certificate was given; Alipay's public-key mode needs the public key itself"
            )
        if "PRIVATE KEY-----" in text:
            raise KeyFormatError("a private key was given where a public key belongs")
        if "PUBLIC KEY-----" not in text:
            raise KeyFormatError("expected a public key (BEGIN PUBLIC KEY or RSA PUBLIC KEY)")
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"the public key PEM cannot be read: {exc}") from exc
    else:
        # load_der_public_key reads SubjectPublicKeyInfo and falls back to PKCS#1.
        der = _bare_der(text)
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError("the base64 text is not an RSA public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("the public key is not an RSA key (RSA2 needs RSA)")
    _check_size(key, "public")
    return key


def _read(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFormatError(f"{what} at {path} cannot be read: {exc}") from exc


def load_private_key_file(path: str | Path) -> rsa.RSAPrivateKey:
    try:
        return load_private_key(_read(path, "the private key"))
    except KeyFormatError as exc:
        raise KeyFormatError(f"{path}: {exc}") from exc


def load_public_key_file(path: str | Path) -> rsa.RSAPublicKey:
    try:
        return load_public_key(_read(path, "the public key"))
    except KeyFormatError as exc:
        raise KeyFormatError(f"{path}: {exc}") from exc


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_key(a: rsa.RSAPublicKey, b: rsa.RSAPublicKey) -> bool:
    return a.public_numbers() == b.public_numbers()


# --- The sandbox's key files ------------------------------------------------------------------


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Readers see either no file or the whole file, never a half-written key."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _ensure_pair(directory: Path, name: str) -> KeyPair:
    """Reuse `{name}_private.pem` when present, else make it; the private key is the truth and
    the public file is (re)written from it only when missing."""
    private_path = directory / f"{name}_private.pem"
    public_path = directory / f"{name}_public.pem"
    if private_path.exists():
        private_key = load_private_key_file(private_path)
    else:
        private_key = new_private_key()
        _write_atomically(private_path, private_pem(private_key), 0o600)
    public_key = private_key.public_key()
    if public_path.exists():
        if not same_key(load_public_key_file(public_path), public_key):
            raise KeyFormatError(
                f"{public_path} does not belong to {private_path}; remove both to start again"
            )
    else:
        _write_atomically(public_path, public_pem(public_key), 0o644)
    return KeyPair(private_key, public_key)


@contextlib.contextmanager
def _file_lock(path: Path):
    # flock is per open file description, so it excludes other threads (each opens the file
    # itself) as well as other processes.
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_sandbox_key_files(directory: str | Path) -> SandboxKeys:
    """Make the sandbox's two key pairs in `directory` unless they exist; load them.

    Under an exclusive file lock, so that processes starting together end with one pair.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _file_lock(directory / LOCK_NAME):
        return SandboxKeys(
            app=_ensure_pair(directory, "app"), gateway=_ensure_pair(directory, "gateway")
        )


def sandbox_key_dir(app: Flask) -> Path:
    return Path(app.instance_path) / SANDBOX_DIR


def payment_state(app: Flask) -> dict:
    """This app's loaded keys and sandbox transport, kept in app.extensions["payments"]."""
    return app.extensions.setdefault(EXTENSION, {})


def ensure_sandbox_keys(app: Flask) -> SandboxKeys:
    """The sandbox key pairs of this app, made on first use and kept for the app's life."""
    state = payment_state(app)
    keys = state.get("sandbox_keys")
    if keys is None:
        with _cache_lock:
            keys = state.get("sandbox_keys")
            if keys is None:
                keys = ensure_sandbox_key_files(sandbox_key_dir(app))
                state["sandbox_keys"] = keys
    return keys


def sandbox_app_public_key(app: Flask) -> rsa.RSAPublicKey:
    """What the sandbox gateway checks our page-pay requests with."""
    return ensure_sandbox_keys(app).app.public_key


def sandbox_gateway_private_key(app: Flask) -> rsa.RSAPrivateKey:
    """What the sandbox gateway signs its notifications and answers with."""
    return ensure_sandbox_keys(app).gateway.private_key


def alipay_configured(app: Flask) -> bool:
    """Alipay is offered only when all four settings are given."""
    names = ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH")
    return all(app.config.get(name) for name in (*names, "ALIPAY_GATEWAY_URL"))


def alipay_keys(app: Flask) -> AlipayKeys:
    """Our private key and Alipay's public key, read from the configured files once per app."""
    state = payment_state(app)
    keys = state.get("alipay_keys")
    if keys is None:
        with _cache_lock:
            keys = state.get("alipay_keys")
            if keys is None:
                keys = AlipayKeys(
                    app_private_key=load_private_key_file(
                        app.config["ALIPAY_APP_PRIVATE_KEY_PATH"]
                    ),
                    alipay_public_key=load_public_key_file(app.config["ALIPAY_PUBLIC_KEY_PATH"]),
                )
                state["alipay_keys"] = keys
    return keys
