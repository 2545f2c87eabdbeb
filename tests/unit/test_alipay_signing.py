"""RSA2 as Alipay signs it, checked against python-alipay-sdk; key forms; page-pay parameters."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.datastructures import MultiDict

from app.services.payments.alipay import AlipayGateway, beijing_time, format_amount
from app.services.payments.gateway import parse_amount, single_valued
from app.services.payments.keys import KeyFormatError, load_private_key, load_public_key
from app.services.payments.signing import (
    rsa2_sign,
    sign_content,
    sign_notification,
    verify,
    verify_request,
)

NOW = datetime(2025, 3, 1, 16, 30, 5, tzinfo=UTC)  # 2025-03-02 00:30:05 in Beijing
EXPIRES = NOW + timedelta(minutes=30)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_private(key: rsa.RSAPrivateKey, form=serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def pem_public(key: rsa.RSAPublicKey, form=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return key.public_bytes(serialization.Encoding.PEM, form).decode()


def bare(pem: str) -> str:
    """A key as Alipay's console shows it: the base64 body on one line, no armour."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def gateway(app_key, alipay_key) -> AlipayGateway:
    return AlipayGateway(
        app_id="2021000000000001",
        app_private_key=app_key,
        alipay_public_key=alipay_key.public_key(),
        gateway_url="https://openapi.alipay.com/gateway.do",
        notify_url="https://shop.example.com/payments/alipay/notify",
        return_url="https://shop.example.com/payments/alipay/return",
        seller_id="2088000000000099",
        clock=lambda: NOW,
    )


@pytest.fixture(scope="module")
def sdk_as_alipay(app_key, alipay_key) -> AliPay:
    """python-alipay-sdk in Alipay's seat: signs with Alipay's key, checks with our public key."""
    return AliPay(
        appid="2021000000000001",
        app_private_key_string=pem_private(alipay_key),
        alipay_public_key_string=pem_public(app_key.public_key()),
    )


def order(order_no="20250301123456789012", amount="199.00"):
    return SimpleNamespace(order_no=order_no, actual_amount=Decimal(amount))


def query_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def notification(**changes) -> dict[str, str]:
    params = {
        "app_id": "2021000000000001",
        "seller_id": "2088000000000099",
        "out_trade_no": "20250301123456789012",
        "trade_no": "2025030122001400000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "199.00",
        "subject": "Python 全栈开发",
        "notify_time": "2025-03-02 00:31:00",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "charset": "utf-8",
        "version": "1.0",
    }
    params.update(changes)
    return params


def signed_by_sdk(sdk: AliPay, params: dict[str, str]) -> dict[str, str]:
    """A notification as Alipay sends it, the signature made by python-alipay-sdk."""
    signed = query_params("?" + sdk.sign_data(dict(params)))
    signed["sign_type"] = "RSA2"
    return signed


# --- Against python-alipay-sdk -----------------------------------------------------------------


def test_page_pay_request_is_accepted_by_python_alipay_sdk(gateway, sdk_as_alipay):
    params = query_params(gateway.page_pay_url(order(), "Python 全栈开发", EXPIRES))
    signature = params.pop("sign")
    # A request's signature covers sign_type, so the SDK's raw check is the one that applies.
    content = "&".join(f"{k}={v}" for k, v in sdk_as_alipay._ordered_data(dict(params)))

    assert sdk_as_alipay._verify(content, signature)


def test_page_pay_request_verifies_with_our_request_check(gateway, app_key):
    params = query_params(gateway.page_pay_url(order(), "Python", EXPIRES))

    assert verify_request(params, app_key.public_key())
    assert not verify_request({**params, "total_amount": "1.00"}, app_key.public_key())
    assert not verify_request({**params, "sign_type": "RSA"}, app_key.public_key())


def test_notification_signed_by_python_alipay_sdk_is_accepted(gateway, sdk_as_alipay):
    params = signed_by_sdk(sdk_as_alipay, notification())

    assert gateway.verify_notification(params)
    assert gateway.notification_refusal(params) is None


def test_notification_we_sign_for_the_sandbox_is_accepted_by_python_alipay_sdk(alipay_key):
    signed = sign_notification(notification(), alipay_key)
    sdk = AliPay(
        appid="2021000000000001",
        app_private_key_string=pem_private(alipay_key),
        alipay_public_key_string=pem_public(alipay_key.public_key()),
    )

    assert signed["sign_type"] == "RSA2"
    signature = signed.pop("sign")
    assert sdk.verify(signed, signature)


# --- Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p.update(total_amount="0.01"), id="amount changed"),
        pytest.param(lambda p: p.update(out_trade_no="20250301999999999999"), id="order changed"),
        pytest.param(lambda p: p.update(refund_fee="199.00"), id="parameter added"),
        pytest.param(lambda p: p.pop("trade_status"), id="parameter removed"),
        pytest.param(lambda p: p.update(subject="Python 全栈开发 "), id="one space more"),
    ],
)
def test_tampered_notification_is_refused(gateway, sdk_as_alipay, tamper):
    params = signed_by_sdk(sdk_as_alipay, notification())
    tamper(params)

    assert not gateway.verify_notification(params)
    assert gateway.notification_refusal(params) == "bad_signature"


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("not base64 at all!", id="garbage"),
        pytest.param("AAAA", id="too short"),
        pytest.param(base64.b64encode(bytes(256)).decode(), id="zeros of the right length"),
        pytest.param("%%%", id="url-encoded leftovers"),
    ],
)
def test_missing_or_garbled_signature_is_refused(gateway, sdk_as_alipay, signature):
    params = signed_by_sdk(sdk_as_alipay, notification())
    params.pop("sign")
    if signature is not None:
        params["sign"] = signature

    assert gateway.verify_notification(params) is False


def test_signature_by_another_key_is_refused(gateway):
    params = sign_notification(notification(), new_key())

    assert gateway.verify_notification(params) is False


def test_weaker_sign_type_is_refused(gateway, alipay_key):
    params = sign_notification(notification(), alipay_key)

    assert gateway.verify_notification(params)
    assert not gateway.verify_notification({**params, "sign_type": "RSA"})


def test_notification_for_another_app_or_seller_is_refused(gateway, alipay_key):
    other_app = sign_notification(notification(app_id="2021000000000002"), alipay_key)
    other_seller = sign_notification(notification(seller_id="2088000000000098"), alipay_key)

    assert gateway.notification_refusal(other_app) == "wrong_app_id"
    assert gateway.notification_refusal(other_seller) == "wrong_seller"


# --- The string to sign ------------------------------------------------------------------------


def test_empty_values_are_left_out_of_the_signed_string():
    params = {"b": "2", "a": "1", "empty": "", "none": None, "sign": "xyz"}

    assert sign_content(params) == "a=1&b=2"


def test_values_are_signed_as_they_are_not_url_encoded():
    params = {"return_url": "https://shop.example.com/r?a=1&b=2", "subject": "全栈 课程+"}

    assert (
        sign_content(params) == "return_url=https://shop.example.com/r?a=1&b=2&subject=全栈 课程+"
    )


def test_notification_signature_leaves_out_sign_and_sign_type_but_request_keeps_sign_type():
    params = {"a": "1", "sign": "s", "sign_type": "RSA2"}

    assert sign_content(params) == "a=1&sign_type=RSA2"
    assert sign_content(params, exclude={"sign", "sign_type"}) == "a=1"


def test_notification_with_an_empty_parameter_verifies_without_it(alipay_key, gateway):
    signed = sign_notification(notification(), alipay_key)

    assert gateway.verify_notification({**signed, "passback_params": ""})


# --- Keys --------------------------------------------------------------------------------------


def test_private_key_forms_all_load_and_sign_alike(app_key):
    pkcs1 = pem_private(app_key, serialization.PrivateFormat.TraditionalOpenSSL)
    pkcs8 = pem_private(app_key, serialization.PrivateFormat.PKCS8)
    assert "BEGIN RSA PRIVATE KEY" in pkcs1
    assert "BEGIN PRIVATE KEY" in pkcs8
    forms = [pkcs1, pkcs8, bare(pkcs1), bare(pkcs8), pkcs8.encode(), "\n  " + pkcs1 + "\n"]

    signatures = {rsa2_sign("a=1&b=2", load_private_key(form)) for form in forms}

    # PKCS#1 v1.5 is deterministic: one key, one content, one signature.
    assert len(signatures) == 1


def test_public_key_forms_all_load_alike(alipay_key):
    public = alipay_key.public_key()
    spki = pem_public(public)
    pkcs1 = pem_public(public, serialization.PublicFormat.PKCS1)
    assert "BEGIN PUBLIC KEY" in spki
    assert "BEGIN RSA PUBLIC KEY" in pkcs1
    forms = [spki, pkcs1, bare(spki), bare(pkcs1)]

    numbers = {load_public_key(form).public_numbers() for form in forms}

    assert numbers == {public.public_numbers()}


def test_bare_base64_key_wrapped_over_lines_loads(alipay_key):
    body = bare(pem_public(alipay_key.public_key()))
    wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))

    assert load_public_key(wrapped).public_numbers() == alipay_key.public_key().public_numbers()


def _ec_private() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _encrypted(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()


def _small() -> str:
    return pem_private(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505  (refusing it is the point)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda k: "", "empty", id="empty"),
        pytest.param(lambda k: "hello, world", "neither PEM nor base64", id="text"),
        pytest.param(lambda k: base64.b64encode(b"x" * 40).decode(), "not an RSA", id="b64"),
        pytest.param(lambda k: _ec_private(), "not an RSA key", id="ec"),
        pytest.param(_encrypted, "encrypted", id="encrypted"),
        pytest.param(lambda k: _small(), "1024 bits", id="small"),
        pytest.param(lambda k: pem_public(k.public_key()), "expected a private key", id="public"),
        pytest.param(
            lambda k: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "cannot be read",
            id="broken pem",
        ),
        pytest.param(lambda k: b"\xff\xfe", "binary", id="binary"),
    ],
)
def test_unusable_private_key_is_refused_clearly(app_key, make, message):
    with pytest.raises(KeyFormatError, match=message):
        load_private_key(make(app_key))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "private key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "cannot be read"),
        ("zzzz", "not an RSA public key"),
    ],
)
def test_unusable_public_key_is_refused_clearly(text, message):
    with pytest.raises(KeyFormatError, match=message):
        load_public_key(text)


# --- Page pay ----------------------------------------------------------------------------------


def test_pay_url_holds_every_contract_parameter(gateway):
    url = gateway.page_pay_url(order(), "Python 全栈开发", EXPIRES)
    params = query_params(url)

    assert url.startswith("https://openapi.alipay.com/gateway.do?")
    assert params.keys() == {
        "app_id",
        "method",
        "format",
        "charset",
        "sign_type",
        "timestamp",
        "version",
        "notify_url",
        "return_url",
        "biz_content",
        "sign",
    }
    assert params["app_id"] == "2021000000000001"
    assert params["method"] == "alipay.trade.page.pay"
    assert params["format"] == "JSON"
    assert params["charset"] == "utf-8"
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2025-03-02 00:30:05"  # Beijing time, as Alipay expects
    assert params["version"] == "1.0"
    assert params["notify_url"] == "https://shop.example.com/payments/alipay/notify"
    assert params["return_url"] == "https://shop.example.com/payments/alipay/return"
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "20250301123456789012",
        "total_amount": "199.00",
        "subject": "Python 全栈开发",
        "product_code": "FAST_INSTANT_TRADE_PAY",
        "time_expire": "2025-03-02 01:00:05",
    }


def test_biz_content_is_compact_json_with_chinese_as_is(gateway):
    biz_content = query_params(gateway.page_pay_url(order(), "全栈", EXPIRES))["biz_content"]

    assert '"subject":"全栈"' in biz_content
    assert ", " not in biz_content
    assert "\\u" not in biz_content


def test_subject_loses_the_characters_alipay_refuses(gateway):
    params = query_params(gateway.page_pay_url(order(), "Linux / 运维 & 开发 = 好", EXPIRES))

    assert json.loads(params["biz_content"])["subject"] == "Linux 运维 开发 好"


def test_pay_url_keeps_a_query_already_in_the_gateway_url(app_key, alipay_key):
    gateway = AlipayGateway(
        "app", app_key, alipay_key.public_key(), "https://gw.example.com/do?charset=utf-8", "n", "r"
    )

    assert gateway.page_pay_url(order(), "x", EXPIRES).startswith(
        "https://gw.example.com/do?charset=utf-8&app_id="
    )


@pytest.mark.parametrize(
    ("amount", "text"),
    [("199", "199.00"), ("199.5", "199.50"), ("0.01", "0.01"), ("100000000.00", "100000000.00")],
)
def test_amount_is_written_with_two_decimals(amount, text):
    assert format_amount(Decimal(amount)) == text


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1"), Decimal("1.005"), 1.5, "1.00"])
def test_amount_alipay_would_refuse_is_a_programming_error(amount):
    with pytest.raises(ValueError, match="amount"):
        format_amount(amount)


def test_times_are_written_in_beijing_time():
    assert beijing_time(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == "2026-01-01 00:00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", beijing_time(datetime.now(UTC)))
    with pytest.raises(ValueError, match="aware"):
        beijing_time(datetime(2025, 1, 1))  # a naive time is refused


# --- Notification parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("199.00", Decimal("199.00")),
        ("199", Decimal("199.00")),
        ("199.5", Decimal("199.50")),
        ("0.01", Decimal("0.01")),
        ("0", Decimal("0.00")),
        ("1e2", None),
        ("1E2", None),
        ("NaN", None),
        ("nan", None),
        ("Infinity", None),
        ("-1.00", None),
        ("+1.00", None),
        ("1.001", None),
        ("", None),
        ("abc", None),
        (" 1.00", None),
        ("1.00\n", None),
        ("1.", None),
        (".5", None),
        ("1,00", None),
        ("١٢٣", None),  # Arabic-Indic digits: Decimal would read them, we do not
        ("9" * 40, None),
        (None, None),
        (199, None),
    ],
)
def test_parse_amount(value, expected):
    result = parse_amount(value)

    assert result == expected
    if expected is not None:
        assert str(result) == str(expected)


def test_single_valued_refuses_a_repeated_parameter():
    repeated = MultiDict([("out_trade_no", "1"), ("total_amount", "1.00"), ("total_amount", "9")])

    assert single_valued(repeated) is None
    assert single_valued([("a", "1"), ("a", "1")]) is None


def test_single_valued_gives_a_plain_dict():
    params = MultiDict([("out_trade_no", "1"), ("total_amount", "1.00")])

    assert single_valued(params) == {"out_trade_no": "1", "total_amount": "1.00"}
    assert single_valued({"a": "1"}) == {"a": "1"}
    assert single_valued([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}


def test_verify_never_raises_on_odd_input(gateway):
    assert verify({}, gateway.alipay_public_key) is False
    assert verify({"sign": 12345}, gateway.alipay_public_key) is False  # type: ignore[dict-item]
    assert verify({"sign": "é"}, gateway.alipay_public_key) is False
