"""Payment keys on disk (made once, locked, private), gateway choice, and refunds answered."""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
import urllib.error
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.models.types import utcnow
from app.services.errors import InvalidInput
from app.services.payments.alipay import (
    AlipayGateway,
    available_methods,
    check_method,
    gateway_for,
    gateway_for_notification,
    pay_url_for,
    sandbox_transport,
    signed_response,
)
from app.services.payments.keys import (
    KeyFormatError,
    ensure_sandbox_key_files,
    ensure_sandbox_keys,
    load_public_key,
    public_pem,
    sandbox_app_public_key,
    sandbox_gateway_private_key,
)
from app.services.payments.signing import rsa2_sign, sign_notification, verify_request

FILES = ("app_private.pem", "app_public.pem", "gateway_private.pem", "gateway_public.pem")


def key_bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in FILES}


def _make_keys_in_child(directory: str, barrier, results) -> None:
    """Run in a spawned process: wait for the others, then race them to make the keys."""
    barrier.wait(timeout=60)
    keys = ensure_sandbox_key_files(directory)
    results.put((public_pem(keys.app.public_key), public_pem(keys.gateway.public_key)))


# --- Key files ---------------------------------------------------------------------------------


def test_keys_are_made_once_and_reused(tmp_path):
    first = ensure_sandbox_key_files(tmp_path / "sandbox")
    made = key_bytes(tmp_path / "sandbox")
    second = ensure_sandbox_key_files(tmp_path / "sandbox")

    assert key_bytes(tmp_path / "sandbox") == made
    assert public_pem(second.app.public_key) == public_pem(first.app.public_key)
    assert public_pem(second.gateway.public_key) == public_pem(first.gateway.public_key)
    assert public_pem(first.app.public_key) != public_pem(first.gateway.public_key)
    assert first.app.private_key.key_size == 2048


def test_private_key_files_are_readable_by_their_owner_only(tmp_path):
    ensure_sandbox_key_files(tmp_path / "sandbox")

    def mode(name: str) -> int:
        return stat.S_IMODE((tmp_path / "sandbox" / name).stat().st_mode)

    assert mode("app_private.pem") == 0o600
    assert mode("gateway_private.pem") == 0o600
    assert mode("app_public.pem") == 0o644
    assert stat.S_IMODE((tmp_path / "sandbox").stat().st_mode) == 0o700
    assert not [p for p in (tmp_path / "sandbox").iterdir() if p.name.endswith(".tmp")]


def test_public_file_is_written_again_from_its_private_key_when_missing(tmp_path):
    keys = ensure_sandbox_key_files(tmp_path)
    (tmp_path / "gateway_public.pem").unlink()

    again = ensure_sandbox_key_files(tmp_path)

    assert public_pem(again.gateway.public_key) == public_pem(keys.gateway.public_key)
    assert (tmp_path / "gateway_public.pem").read_bytes() == public_pem(keys.gateway.public_key)


def test_public_file_of_another_key_is_refused_not_overwritten(tmp_path):
    ensure_sandbox_key_files(tmp_path)
    (tmp_path / "app_public.pem").write_bytes((tmp_path / "gateway_public.pem").read_bytes())

    with pytest.raises(KeyFormatError, match="does not belong"):
        ensure_sandbox_key_files(tmp_path)


def test_threads_at_once_end_with_one_pair(tmp_path):
    barrier = threading.Barrier(4)
    results: list[tuple[bytes, bytes]] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            barrier.wait(timeout=30)
            keys = ensure_sandbox_key_files(tmp_path / "sandbox")
            results.append((public_pem(keys.app.public_key), public_pem(keys.gateway.public_key)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    on_disk = key_bytes(tmp_path / "sandbox")
    assert set(results) == {(on_disk["app_public.pem"], on_disk["gateway_public.pem"])}


def test_processes_at_once_end_with_one_pair(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results = context.Queue()
    processes = [
        context.Process(
            target=_make_keys_in_child, args=(str(tmp_path / "sandbox"), barrier, results)
        )
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    found = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert [process.exitcode for process in processes] == [0, 0, 0]
    on_disk = key_bytes(tmp_path / "sandbox")
    assert set(found) == {(on_disk["app_public.pem"], on_disk["gateway_public.pem"])}


def test_app_keeps_its_sandbox_keys_in_its_instance_folder(app):
    keys = ensure_sandbox_keys(app)

    assert ensure_sandbox_keys(app) is keys
    directory = Path(app.instance_path) / "sandbox"
    assert key_bytes(directory)["app_public.pem"] == public_pem(keys.app.public_key)
    assert sandbox_app_public_key(app) is keys.app.public_key
    assert sandbox_gateway_private_key(app) is keys.gateway.private_key


def test_seed_demo_makes_the_sandbox_keys(app, runner):
    directory = Path(app.instance_path) / "sandbox"
    assert not directory.exists()

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert all((directory / name).is_file() for name in FILES)
    made = key_bytes(directory)
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert key_bytes(directory) == made


def test_seed_demo_without_the_sandbox_makes_no_keys(app, runner):
    app.config["PAYMENT_SANDBOX"] = False

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert not (Path(app.instance_path) / "sandbox").exists()


# --- Which gateway -----------------------------------------------------------------------------


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def alipay_pair() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """(our app's key, Alipay's key)"""
    return new_key(), new_key()


@pytest.fixture
def with_alipay(app, tmp_path, alipay_pair):
    app_key, alipay_key = alipay_pair
    private_path = tmp_path / "app_private_key.txt"
    # As Alipay's key tool hands them out: PKCS#1 PEM for ours, bare base64 for theirs.
    private_path.write_bytes(
        app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public_path = tmp_path / "alipay_public_key.txt"
    public_path.write_text("".join(public_pem(alipay_key.public_key()).decode().splitlines()[1:-1]))
    app.config.update(
        ALIPAY_APP_ID="2021000000000001",
        ALIPAY_APP_PRIVATE_KEY_PATH=str(private_path),
        ALIPAY_PUBLIC_KEY_PATH=str(public_path),
        ALIPAY_GATEWAY_URL="https://openapi.alipay.com/gateway.do",
        ALIPAY_SELLER_ID="2088000000000099",
        PUBLIC_BASE_URL="https://shop.example.com",
    )
    return app


def test_only_the_sandbox_is_offered_without_alipay_settings(app):
    assert available_methods(app) == ["sandbox"]
    with pytest.raises(InvalidInput) as refused:
        gateway_for(app, "alipay")
    assert refused.value.slug == "payment_method_unavailable"
    assert refused.value.status == 400


@pytest.mark.parametrize("method", ["bitcoin", "", "ALIPAY"])
def test_unknown_method_is_unavailable(app, method):
    with pytest.raises(InvalidInput) as refused:
        gateway_for(app, method)

    assert refused.value.slug == "payment_method_unavailable"


def test_nothing_is_offered_with_the_sandbox_off_and_no_alipay(app):
    app.config["PAYMENT_SANDBOX"] = False

    assert available_methods(app) == []
    with pytest.raises(InvalidInput):
        gateway_for(app, "sandbox")


def test_alipay_is_offered_only_when_all_four_settings_are_set(with_alipay):
    assert available_methods(with_alipay) == ["alipay", "sandbox"]

    with_alipay.config["ALIPAY_GATEWAY_URL"] = None

    assert available_methods(with_alipay) == ["sandbox"]


def test_alipay_gateway_is_built_from_the_settings(with_alipay, alipay_pair):
    gateway = gateway_for(with_alipay, "alipay")

    assert gateway.method == "alipay"
    assert gateway.app_id == "2021000000000001"
    assert gateway.seller_id == "2088000000000099"
    assert gateway.gateway_url == "https://openapi.alipay.com/gateway.do"
    assert gateway.notify_url == "https://shop.example.com/payments/alipay/notify"
    assert gateway.return_url == "https://shop.example.com/payments/alipay/return"
    assert (
        gateway.alipay_public_key.public_numbers() == alipay_pair[1].public_key().public_numbers()
    )


def test_sandbox_gateway_uses_the_sandbox_keys_and_this_site(app):
    app.config["PUBLIC_BASE_URL"] = "https://shop.example.com"
    gateway = gateway_for(app, "sandbox")

    assert gateway.method == "sandbox"
    assert gateway.app_id == app.config["SANDBOX_APP_ID"]
    assert gateway.gateway_url == "https://shop.example.com/payments/sandbox/gateway"
    assert gateway.notify_url == "https://shop.example.com/payments/alipay/notify"


def test_sandbox_notification_is_trusted_by_the_sandbox_gateway_only(with_alipay):
    app = with_alipay
    params = sign_notification(
        {
            "app_id": app.config["SANDBOX_APP_ID"],
            "seller_id": app.config["SANDBOX_SELLER_ID"],
            "out_trade_no": "20250301123456789012",
            "trade_no": "SANDBOX0001",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "199.00",
        },
        sandbox_gateway_private_key(app),
    )

    chosen = gateway_for_notification(app, params)

    assert chosen is not None
    assert chosen.method == "sandbox"
    assert chosen.notification_refusal(params) is None
    assert gateway_for(app, "alipay").notification_refusal(params) == "bad_signature"


def test_notification_naming_an_unknown_app_has_no_gateway(with_alipay):
    assert gateway_for_notification(with_alipay, {"app_id": "someone-else"}) is None
    assert gateway_for_notification(with_alipay, {}) is None
    assert gateway_for_notification(with_alipay, {"app_id": "2021000000000001"}).method == "alipay"


def test_sandbox_notification_has_no_gateway_once_the_sandbox_is_off(app):
    app.config["PAYMENT_SANDBOX"] = False

    assert gateway_for_notification(app, {"app_id": app.config["SANDBOX_APP_ID"]}) is None


def test_sandbox_page_pay_request_verifies_with_the_sandbox_app_key(app):
    gateway = gateway_for(app, "sandbox")
    order = SimpleNamespace(order_no="20250301123456789012", actual_amount=Decimal("9.90"))
    url = gateway.page_pay_url(order, "Go 入门", utcnow() + timedelta(minutes=30))
    params = dict(parse_qsl(urlsplit(url).query))

    assert url.startswith("http://127.0.0.1:5000/payments/sandbox/gateway?")  # no request
    assert verify_request(params, sandbox_app_public_key(app))


def pending_order(**changes):
    fields = {
        "order_no": "20250301123456789012",
        "status": "pending",
        "payment_method": "sandbox",
        "actual_amount": Decimal("29.90"),
        "expires_at": utcnow() + timedelta(minutes=30),
        "lines": [SimpleNamespace(product_name="Go 入门"), SimpleNamespace(product_name="Linux")],
    }
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_pay_url_of_a_pending_order_names_what_it_buys(app):
    url = pay_url_for(app, pending_order())
    params = dict(parse_qsl(urlsplit(url).query))

    assert json.loads(params["biz_content"])["subject"] == "Go 入门、Linux"
    assert json.loads(params["biz_content"])["total_amount"] == "29.90"
    assert verify_request(params, sandbox_app_public_key(app))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"status": "paid"}, id="paid"),
        pytest.param({"status": "cancelled"}, id="cancelled"),
        pytest.param({"actual_amount": Decimal("0.00")}, id="amount 0"),
        pytest.param({"payment_method": "alipay"}, id="method no longer offered"),
    ],
)
def test_there_is_no_pay_url_when_there_is_nothing_to_pay(app, changes):
    assert pay_url_for(app, pending_order(**changes)) is None


def test_check_method_refuses_what_is_not_offered(app):
    check_method(app, "sandbox")
    with pytest.raises(InvalidInput) as refused:
        check_method(app, "alipay")

    assert refused.value.slug == "payment_method_unavailable"
    assert refused.value.fields == {"payment_method": "one of: sandbox"}


# --- Refunds -----------------------------------------------------------------------------------


class Desk:
    """A transport that records what it was sent and answers as told."""

    def __init__(self, answer=None, error: BaseException | None = None) -> None:
        self.answer = answer
        self.error = error
        self.calls: list[tuple[str, dict[str, str], float]] = []

    def __call__(self, url, form, timeout):
        self.calls.append((url, dict(form), timeout))
        if self.error is not None:
            raise self.error
        return self.answer


def refund_gateway(alipay_pair, desk: Desk) -> AlipayGateway:
    app_key, alipay_key = alipay_pair
    return AlipayGateway(
        "2021000000000001",
        app_key,
        alipay_key.public_key(),
        "https://openapi.alipay.com/gateway.do",
        "https://shop.example.com/n",
        "https://shop.example.com/r",
        transport=desk,
    )


def success_body(**changes):
    body = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2025030122001400000000000001",
        "out_trade_no": "20250301123456789012",
        "buyer_logon_id": "159****5620",
        "fund_change": "Y",
        "refund_fee": "99.50",
        "gmt_refund_pay": "2025-03-02 10:00:00",
        "buyer_user_id": "2088101117955611",
    }
    body.update(changes)
    return body


def test_refund_answered_10000_succeeds(alipay_pair):
    desk = Desk(signed_response("alipay.trade.refund", success_body(), alipay_pair[1]))
    gateway = refund_gateway(alipay_pair, desk)

    result = gateway.refund("20250301123456789012", Decimal("99.50"), "课程不合适", "R-1")

    assert result.ok, result.message
    assert result.code == "10000"
    assert result.refund_fee == Decimal("99.50")
    assert result.fund_change is True
    assert result.trade_no == "2025030122001400000000000001"
    url, form, _ = desk.calls[0]
    assert url == "https://openapi.alipay.com/gateway.do"
    assert form["method"] == "alipay.trade.refund"
    assert json.loads(form["biz_content"]) == {
        "out_trade_no": "20250301123456789012",
        "refund_amount": "99.50",
        "out_request_no": "R-1",
        "refund_reason": "课程不合适",
    }


def test_refund_request_is_accepted_by_python_alipay_sdk(alipay_pair):
    app_key, alipay_key = alipay_pair
    desk = Desk(signed_response("alipay.trade.refund", success_body(), alipay_key))
    refund_gateway(alipay_pair, desk).refund("20250301123456789012", Decimal("1.00"), "", "R-2")
    form = desk.calls[0][1]
    sdk = AliPay(
        appid="2021000000000001",
        app_private_key_string=alipay_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        alipay_public_key_string=public_pem(app_key.public_key()).decode(),
    )
    signature = form.pop("sign")

    assert sdk._verify("&".join(f"{k}={v}" for k, v in sorted(form.items())), signature)
    assert "refund_reason" not in json.loads(form["biz_content"])


def test_refund_already_made_for_this_request_reports_no_fund_change(alipay_pair):
    answer = signed_response("alipay.trade.refund", success_body(fund_change="N"), alipay_pair[1])

    result = refund_gateway(alipay_pair, Desk(answer)).refund(
        "20250301123456789012", Decimal("99.50"), "again", "R-1"
    )

    assert result.ok
    assert result.fund_change is False


def test_refund_refused_by_the_gateway_fails_with_its_words(alipay_pair):
    body = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_HAS_FINISHED",
        "sub_msg": "交易已完结",
    }
    desk = Desk(signed_response("alipay.trade.refund", body, alipay_pair[1]))

    result = refund_gateway(alipay_pair, desk).refund(
        "20250301123456789012", Decimal("99.50"), "", "R-1"
    )

    assert not result.ok
    assert result.code == "40004"
    assert result.sub_code == "ACQ.TRADE_HAS_FINISHED"
    assert "交易已完结" in result.message


def test_refund_answered_by_error_response_fails(alipay_pair):
    answer = json.dumps(
        {"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_msg": "无效的AppID"}}
    )

    result = refund_gateway(alipay_pair, Desk(answer)).refund(
        "20250301123456789012", Decimal("1.00"), "", "R-1"
    )

    assert not result.ok
    assert result.code == "40002"


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("Connection refused"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_refund_without_an_answer_fails_without_raising(alipay_pair, error):
    result = refund_gateway(alipay_pair, Desk(error=error)).refund(
        "20250301123456789012", Decimal("1.00"), "", "R-1"
    )

    assert not result.ok
    assert "did not answer" in result.message


def test_refund_success_not_signed_by_the_gateway_fails(alipay_pair):
    forged = signed_response("alipay.trade.refund", success_body(), new_key())
    unsigned = json.dumps({"alipay_trade_refund_response": success_body()})

    for answer in (forged, unsigned):
        result = refund_gateway(alipay_pair, Desk(answer)).refund(
            "20250301123456789012", Decimal("99.50"), "", "R-1"
        )
        assert not result.ok
        assert "not signed" in result.message


def test_refund_success_for_another_trade_fails(alipay_pair):
    answer = signed_response(
        "alipay.trade.refund", success_body(out_trade_no="20250301000000000000"), alipay_pair[1]
    )

    result = refund_gateway(alipay_pair, Desk(answer)).refund(
        "20250301123456789012", Decimal("99.50"), "", "R-1"
    )

    assert not result.ok


def test_refund_signature_covers_the_exact_text_alipay_sent(alipay_pair):
    # Spaces, Chinese and braces inside strings: the signed text is taken as sent.
    text = json.dumps(success_body(msg="成功 {ok}"), ensure_ascii=False, indent=1)
    answer = (
        '{ "alipay_trade_refund_response" : '
        + text
        + ' , "sign":"'
        + rsa2_sign(text, alipay_pair[1])
        + '"}'
    )

    result = refund_gateway(alipay_pair, Desk(answer)).refund(
        "20250301123456789012", Decimal("99.50"), "", "R-1"
    )

    assert result.ok, result.message


@pytest.mark.parametrize("answer", ["", "not json", "[]", "{}", '{"x": 1}', None, b"\xff"])
def test_refund_with_an_unreadable_answer_fails(alipay_pair, answer):
    result = refund_gateway(alipay_pair, Desk(answer)).refund(
        "20250301123456789012", Decimal("1.00"), "", "R-1"
    )

    assert not result.ok


def test_refund_of_an_impossible_amount_fails_without_asking(alipay_pair):
    desk = Desk("{}")

    result = refund_gateway(alipay_pair, desk).refund(
        "20250301123456789012", Decimal("0.00"), "", "R-1"
    )

    assert not result.ok
    assert desk.calls == []


def test_sandbox_refunds_in_the_process(app):
    result = gateway_for(app, "sandbox").refund(
        "20250301123456789012", Decimal("19.90"), "测试", "R-1"
    )

    assert result.ok, result.message
    assert result.refund_fee == Decimal("19.90")


def test_sandbox_refund_desk_refuses_a_request_we_did_not_sign(app):
    answer = sandbox_transport(app)("url", {"method": "alipay.trade.refund", "sign": "x"}, 1.0)

    assert json.loads(answer)["error_response"]["code"] == "40002"


def test_public_key_file_loads_like_the_sandbox_key(app):
    directory = Path(app.instance_path) / "sandbox"
    keys = ensure_sandbox_keys(app)

    loaded = load_public_key((directory / "gateway_public.pem").read_text())

    assert loaded.public_numbers() == keys.gateway.public_key.public_numbers()
