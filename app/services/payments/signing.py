"""Alipay's RSA2 signatures: the string to sign, SHA256withRSA, and checking what comes back."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPE = "RSA2"
# A request's signature covers `sign_type`; a notification's does not (Alipay's rules).
REQUEST_EXCLUDED = frozenset({"sign"})
NOTIFICATION_EXCLUDED = frozenset({"sign", "sign_type"})


def sign_content(
    params: Mapping[str, str | None], exclude: Collection[str] = REQUEST_EXCLUDED
) -> str:
    """Every parameter but the excluded and the empty, sorted by key, `k=v` joined by `&`.

    Values are taken as they are, not url-encoded: Alipay signs the decoded values.
    """
    items = sorted(
        (key, value)
        for key, value in params.items()
        if key not in exclude and value is not None and value != ""
    )
    return "&".join(f"{key}={value}" for key, value in items)


def rsa2_sign(content: str, private_key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA (PKCS#1 v1.5) of the UTF-8 content, in base64."""
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa2_verify(content: str, signature: object, public_key: rsa.RSAPublicKey) -> bool:
    """True only for a good signature; anything missing, garbled or wrong is False."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        # Some senders wrap base64 at 76 columns; nothing else but base64 is accepted.
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def sign_request(params: Mapping[str, str], private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The request's parameters with `sign` added (its `sign_type` must already be among them,
    since a request's signature covers it)."""
    signed = {key: value for key, value in params.items() if key != "sign"}
    signed["sign"] = rsa2_sign(sign_content(signed, REQUEST_EXCLUDED), private_key)
    return signed


def verify_request(params: Mapping[str, str], public_key: rsa.RSAPublicKey) -> bool:
    """Check a signed request (what the sandbox gateway does with our page-pay requests)."""
    if params.get("sign_type") != SIGN_TYPE:
        return False
    return rsa2_verify(sign_content(params, REQUEST_EXCLUDED), params.get("sign"), public_key)


def verify(params: Mapping[str, str], public_key: rsa.RSAPublicKey) -> bool:
    """Check a notification (or the return URL's parameters): the signature covers every
    parameter but `sign` and `sign_type`. Never raises."""
    if params.get("sign_type") not in (None, "", SIGN_TYPE):
        return False  # RSA (SHA-1) or anything else is refused, not checked the weaker way
    return rsa2_verify(sign_content(params, NOTIFICATION_EXCLUDED), params.get("sign"), public_key)


def sign_notification(params: Mapping[str, str], private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """A notification signed the way Alipay signs one: over every parameter but `sign` and
    `sign_type`, with `sign_type` RSA2 added."""
    signed = {key: value for key, value in params.items() if key not in NOTIFICATION_EXCLUDED}
    signed["sign"] = rsa2_sign(sign_content(signed, NOTIFICATION_EXCLUDED), private_key)
    signed["sign_type"] = SIGN_TYPE
    return signed
