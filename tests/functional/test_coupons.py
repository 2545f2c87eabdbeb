"""The coupon API and service: what may be claimed, claiming (refusals write nothing), and
one's own records by status, with `expired` computed on read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain, repeat

import pymysql
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Coupon, CouponRecord, Order
from app.models.types import utcnow
from app.schemas.coupons import record_dict
from app.services import coupons
from app.services.errors import Conflict
from tests.api import ok, refused
from tests.factories import (
    CouponFactory,
    CouponRecordFactory,
    CourseFactory,
    DegreeCourseFactory,
    UserFactory,
)

AVAILABLE = "/api/v1/coupons/available"
MINE = "/api/v1/coupons/mine"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")


def claim_url(coupon_id: int) -> str:
    return f"/api/v1/coupons/{coupon_id}/claim"


def claimed_count(coupon_id: int) -> int:
    db.session.rollback()  # a fresh read: the requests ran in sessions of their own
    return db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon_id))


def records_of(coupon_id: int) -> list[CouponRecord]:
    db.session.rollback()
    return list(db.session.scalars(select(CouponRecord).where(CouponRecord.coupon_id == coupon_id)))


def make_order(user, order_no: str) -> Order:
    order = Order(
        order_no=order_no,
        user_id=user.id,
        status="paid",
        payment_method="sandbox",
        original_amount=Decimal("99.00"),
        discount_amount=Decimal("10.00"),
        actual_amount=Decimal("89.00"),
        expires_at=utcnow() + timedelta(minutes=30),
    )
    db.session.add(order)
    db.session.commit()
    return order


@pytest.fixture
def student():
    return UserFactory()


@pytest.fixture
def auth(student, token_for):
    return token_for(student)


# --- what may be claimed ------------------------------------------------------------------------


def test_available_answers_the_contract_shape(client):
    course = CourseFactory(name="Flask 实战")
    CouponFactory(
        name="Flask 满 199 减 50",
        kind="threshold",
        value=Decimal("50.00"),
        minimum_consume=Decimal("199.00"),
        product=course,
        quantity=10,
        claimed=3,
    )
    CouponFactory(
        name="全场 8 折",
        kind="percent",
        value=None,
        off_percent=80,
        minimum_consume=Decimal("100.00"),
    )
    threshold, percent = ok(client.get(AVAILABLE))
    assert threshold == {
        "id": threshold["id"],
        "name": "Flask 满 199 减 50",
        "kind": "threshold",
        "value": "50.00",
        "off_percent": None,
        "minimum_consume": "199.00",
        "product": {"item_type": "course", "item_id": course.id, "name": "Flask 实战"},
        "remaining": 7,
    }
    assert percent["value"] is None
    assert percent["off_percent"] == 80
    assert percent["product"] is None  # site-wide
    assert percent["remaining"] is None  # unlimited


def test_a_degree_course_coupon_names_its_item_type(client):
    degree = DegreeCourseFactory()
    CouponFactory(product=degree)
    (coupon,) = ok(client.get(AVAILABLE))
    assert coupon["product"] == {
        "item_type": "degree_course",
        "item_id": degree.id,
        "name": degree.name,
    }


def test_available_leaves_out_what_cannot_be_claimed_now(client):
    now = utcnow()
    shown = [
        CouponFactory(name="unlimited"),
        CouponFactory(name="some left", quantity=5, claimed=4),
        CouponFactory(name="window ends later", claim_end=now + timedelta(minutes=1)),
    ]
    CouponFactory(name="sold out", quantity=3, claimed=3)
    CouponFactory(name="none at all", quantity=0)
    CouponFactory(name="withdrawn", active=False)
    CouponFactory(name="not yet", claim_start=now + timedelta(hours=1))
    CouponFactory(name="over", claim_end=now - timedelta(seconds=1))
    CouponFactory(
        name="use window over",
        valid_days=None,
        valid_from=now - timedelta(days=10),
        valid_until=now - timedelta(days=1),
    )
    got = ok(client.get(AVAILABLE))
    assert [c["name"] for c in got] == [c.name for c in shown]
    assert [c["remaining"] for c in got] == [None, 1, None]


def test_available_for_a_signed_in_user_leaves_out_what_they_hold(client, student, auth):
    held, other = CouponFactory(), CouponFactory()
    CouponRecordFactory(coupon=held, user=student)
    CouponRecordFactory(coupon=other)  # someone else's record hides nothing from this user
    assert [c["id"] for c in ok(client.get(AVAILABLE, headers=auth))] == [other.id]
    assert [c["id"] for c in ok(client.get(AVAILABLE))] == [held.id, other.id]


def test_available_with_a_bad_token_is_a_401_not_anonymous(client):
    CouponFactory()
    for header in ("Token not-a-real-token", "Basic abc", "Token"):
        refused(
            client.get(AVAILABLE, headers={"Authorization": header}), 401, "unauthorized", code=1003
        )


def test_available_reads_a_fixed_number_of_queries(app, client, count_queries, student, auth):
    def queries() -> int:
        with count_queries() as counter:
            assert client.get(AVAILABLE, headers=auth).status_code == 200
        return counter.count

    CouponFactory(product=CourseFactory())
    few = queries()
    for _ in range(6):
        CouponFactory(product=CourseFactory())
        CouponFactory(product=DegreeCourseFactory())
    assert len(ok(client.get(AVAILABLE, headers=auth))) == 13
    assert queries() == few


# --- claiming -----------------------------------------------------------------------------------


def test_claim_answers_201_with_the_new_record(client, student, auth):
    coupon = CouponFactory(valid_days=30, quantity=10)
    before = utcnow()
    record = ok(client.post(claim_url(coupon.id), headers=auth), 201)
    assert set(record) == {
        "id",
        "code",
        "status",
        "coupon",
        "valid_from",
        "valid_until",
        "order_no",
    }
    assert re.fullmatch(f"[{coupons.CODE_ALPHABET}]{{16}}", record["code"])
    assert record["status"] == "unused"
    assert record["order_no"] is None
    assert record["coupon"]["id"] == coupon.id
    assert "remaining" not in record["coupon"]
    assert ISO_UTC.match(record["valid_from"])
    assert ISO_UTC.match(record["valid_until"])
    valid_from = datetime.fromisoformat(record["valid_from"])
    assert before <= valid_from <= utcnow()
    assert datetime.fromisoformat(record["valid_until"]) - valid_from == timedelta(days=30)
    assert claimed_count(coupon.id) == 1
    (stored,) = records_of(coupon.id)
    assert (stored.user_id, stored.code, stored.status) == (student.id, record["code"], "unused")


def test_a_fixed_use_window_comes_from_the_coupon(client, auth):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = utcnow() + timedelta(days=60)
    coupon = CouponFactory(valid_days=None, valid_from=start, valid_until=end)
    record = ok(client.post(claim_url(coupon.id), headers=auth), 201)
    assert record["valid_from"] == "2020-01-01T00:00:00+00:00"
    assert datetime.fromisoformat(record["valid_until"]) == end


def test_a_second_claim_is_409_and_the_count_is_unchanged(client, auth):
    coupon = CouponFactory(quantity=5)
    ok(client.post(claim_url(coupon.id), headers=auth), 201)
    refused(client.post(claim_url(coupon.id), headers=auth), 409, "already_claimed", code=1005)
    assert claimed_count(coupon.id) == 1
    assert len(records_of(coupon.id)) == 1


def test_a_claim_refused_by_the_unique_key_takes_nothing_from_the_count(
    client, student, auth, monkeypatch
):
    """Two claims racing both pass the first check; the unique (coupon, user) stops the second
    and its increment of the count is undone with it."""
    coupon = CouponFactory(quantity=5)
    ok(client.post(claim_url(coupon.id), headers=auth), 201)
    monkeypatch.setattr(coupons, "holds", lambda user, coupon: False)
    refused(client.post(claim_url(coupon.id), headers=auth), 409, "already_claimed", code=1005)
    assert claimed_count(coupon.id) == 1
    assert len(records_of(coupon.id)) == 1


def test_the_service_leaves_the_session_as_it_found_it_on_a_refusal(app, student, monkeypatch):
    coupon = CouponFactory(quantity=5)
    coupons.claim_coupon(student, coupon.id)
    db.session.commit()
    monkeypatch.setattr(coupons, "holds", lambda user, coupon: False)
    with pytest.raises(Conflict) as refusal:
        coupons.claim_coupon(student, coupon.id)
    assert refusal.value.slug == "already_claimed"
    # No rollback of the caller's transaction needed: the savepoint took the increment back.
    assert db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon.id)) == 1
    db.session.commit()
    assert claimed_count(coupon.id) == 1


def test_a_code_clash_draws_another_code(client, student, auth, monkeypatch):
    CouponRecordFactory(code="AAAAAAAAAAAAAAAA")
    coupon = CouponFactory()
    codes = chain(["AAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAA"], repeat("BBBBBBBBBBBBBBBB"))
    monkeypatch.setattr(coupons, "new_code", lambda: next(codes))
    record = ok(client.post(claim_url(coupon.id), headers=auth), 201)
    assert record["code"] == "BBBBBBBBBBBBBBBB"
    assert claimed_count(coupon.id) == 1


def test_a_sold_out_coupon_is_409(client, token_for):
    coupon = CouponFactory(quantity=1)
    first, second = UserFactory(), UserFactory()
    ok(client.post(claim_url(coupon.id), headers=token_for(first)), 201)
    refused(
        client.post(claim_url(coupon.id), headers=token_for(second)),
        409,
        "coupon_sold_out",
        code=1005,
    )
    assert claimed_count(coupon.id) == 1
    assert [r.user_id for r in records_of(coupon.id)] == [first.id]


@pytest.mark.parametrize(
    "window",
    [
        {"claim_start": timedelta(hours=1), "claim_end": timedelta(days=1)},
        {"claim_start": timedelta(days=-2), "claim_end": timedelta(days=-1)},
        {"claim_start": timedelta(days=-2), "claim_end": timedelta(0)},  # half-open: ends now
    ],
    ids=["not-yet", "over", "ends-now"],
)
def test_a_claim_outside_the_claim_window_is_409(app, client, auth, window):
    now = utcnow()
    coupon = CouponFactory(**{k: now + v for k, v in window.items()})
    refused(client.post(claim_url(coupon.id), headers=auth), 409, "coupon_unavailable", code=1005)
    assert claimed_count(coupon.id) == 0
    assert records_of(coupon.id) == []


def test_a_coupon_whose_use_window_is_over_cannot_be_claimed(client, auth):
    now = utcnow()
    coupon = CouponFactory(valid_days=None, valid_until=now - timedelta(seconds=1))
    refused(client.post(claim_url(coupon.id), headers=auth), 409, "coupon_unavailable", code=1005)
    assert claimed_count(coupon.id) == 0


def test_an_unknown_or_withdrawn_coupon_is_404(client, auth):
    withdrawn = CouponFactory(active=False)
    refused(client.post(claim_url(withdrawn.id + 1000), headers=auth), 404, "not_found", code=1002)
    refused(client.post(claim_url(withdrawn.id), headers=auth), 404, "not_found", code=1002)
    assert claimed_count(withdrawn.id) == 0


def test_claiming_needs_a_token(client):
    coupon = CouponFactory()
    refused(client.post(claim_url(coupon.id)), 401, "unauthorized", code=1003)
    refused(
        client.post(claim_url(coupon.id), headers={"Authorization": "Token nope"}),
        401,
        "unauthorized",
        code=1003,
    )
    assert claimed_count(coupon.id) == 0


def test_claiming_with_a_token_from_login(client):
    user = UserFactory()
    login = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": UserFactory.password}
    )
    headers = {"Authorization": f"Bearer {ok(login)['token']}"}
    coupon = CouponFactory()
    ok(client.post(claim_url(coupon.id), headers=headers), 201)
    assert [r["coupon"]["id"] for r in ok(client.get(MINE, headers=headers))] == [coupon.id]


def test_a_get_on_the_claim_url_is_405(client, auth):
    coupon = CouponFactory()
    refused(client.get(claim_url(coupon.id), headers=auth), 405, "method_not_allowed", code=1001)


def _lock_failure(number: int) -> OperationalError:
    return OperationalError("UPDATE coupons ...", {}, pymysql.err.OperationalError(number, "x"))


@pytest.mark.parametrize("number", [1213, 1205], ids=["deadlock", "lock-wait-timeout"])
def test_a_lock_failure_is_retried_once_then_answered_409(client, auth, monkeypatch, number):
    coupon = CouponFactory()
    calls = []

    def fail(*args, **kwargs):
        calls.append(args)
        raise _lock_failure(number)

    monkeypatch.setattr(coupons, "claim_coupon", fail)
    refused(client.post(claim_url(coupon.id), headers=auth), 409, "coupon_unavailable", code=1005)
    assert len(calls) == 2


def test_a_claim_that_deadlocks_once_succeeds_on_the_retry(client, auth, monkeypatch):
    coupon = CouponFactory()
    real, calls = coupons.claim_coupon, []

    def deadlock_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise _lock_failure(1213)
        return real(*args, **kwargs)

    monkeypatch.setattr(coupons, "claim_coupon", deadlock_once)
    ok(client.post(claim_url(coupon.id), headers=auth), 201)
    assert len(calls) == 2
    assert claimed_count(coupon.id) == 1


# --- one's own records --------------------------------------------------------------------------


@pytest.fixture
def wallet(student):
    """One record of each status, claimed a minute apart (newest last here)."""
    now = utcnow()

    def record(minutes_ago, **fields):
        return CouponRecordFactory(
            user=student, claimed_at=now - timedelta(minutes=minutes_ago), **fields
        )

    return {
        "used": record(50, status="used", order=make_order(student, "20260101000000000001")),
        "reserved": record(
            40, status="reserved", order=make_order(student, "20260101000000000002")
        ),
        "expired": record(30, valid_until=now - timedelta(seconds=1)),
        "not_yet": record(20, valid_from=now + timedelta(days=1)),
        "unused": record(10),
        "forever": record(5, valid_until=None),
    }


def ids(records) -> list[int]:
    return [r["id"] for r in records]


def test_mine_lists_every_record_newest_first(client, auth, wallet):
    got = ok(client.get(MINE, headers=auth))
    assert ids(got) == [wallet[k].id for k in ("forever", "unused", "not_yet", "expired")] + [
        wallet["reserved"].id,
        wallet["used"].id,
    ]
    statuses = {r["id"]: r["status"] for r in got}
    assert statuses[wallet["expired"].id] == "expired"  # stored unused, read expired
    assert statuses[wallet["not_yet"].id] == "expired"  # outside its window, as status_at says
    assert statuses[wallet["unused"].id] == "unused"
    assert statuses[wallet["reserved"].id] == "reserved"
    assert statuses[wallet["used"].id] == "used"
    forever = next(r for r in got if r["id"] == wallet["forever"].id)
    assert forever["valid_until"] is None
    used = next(r for r in got if r["id"] == wallet["used"].id)
    assert used["order_no"] == "20260101000000000001"
    assert ISO_UTC.match(used["valid_from"])


@pytest.mark.parametrize(
    ("status", "keys"),
    [
        ("unused", ["forever", "unused"]),
        ("expired", ["not_yet", "expired"]),
        ("reserved", ["reserved"]),
        ("used", ["used"]),
        ("", ["forever", "unused", "not_yet", "expired", "reserved", "used"]),
    ],
)
def test_mine_by_status(client, auth, wallet, status, keys):
    got = ok(client.get(MINE, headers=auth, query_string={"status": status}))
    assert ids(got) == [wallet[k].id for k in keys]
    if status:
        assert {r["status"] for r in got} == {status}


def test_the_status_filter_agrees_with_status_at(app, student, wallet):
    now = utcnow()
    every = coupons.my_coupon_records(student, now=now)
    for status in coupons.STATUSES:
        by_sql = coupons.my_coupon_records(student, status, now)
        assert [r.id for r in by_sql] == [r.id for r in every if r.status_at(now) == status]


def test_a_record_expires_on_read_as_time_passes(app, student):
    record = CouponRecordFactory(user=student, valid_until=utcnow() + timedelta(days=1))
    later = utcnow() + timedelta(days=2)
    assert coupons.my_coupon_records(student, "unused")[0].id == record.id
    assert coupons.my_coupon_records(student, "unused", later) == []
    assert [r.id for r in coupons.my_coupon_records(student, "expired", later)] == [record.id]
    assert record_dict(record, later)["status"] == "expired"


@pytest.mark.parametrize("status", ["all", "UNUSED", "deleted", "1"])
def test_mine_with_an_unknown_status_is_400(client, auth, status):
    body = refused(
        client.get(MINE, headers=auth, query_string={"status": status}),
        400,
        "invalid_input",
        code=1001,
    )
    assert "status" in body["data"]["fields"]


def test_mine_never_shows_another_users_records(client, student, auth, token_for):
    mine = CouponRecordFactory(user=student)
    other = UserFactory()
    theirs = CouponRecordFactory(user=other)
    assert ids(ok(client.get(MINE, headers=auth))) == [mine.id]
    assert ids(ok(client.get(MINE, headers=token_for(other)))) == [theirs.id]


def test_mine_needs_a_token(client):
    refused(client.get(MINE), 401, "unauthorized", code=1003)


def test_mine_reads_a_fixed_number_of_queries(app, client, count_queries, student, auth):
    def queries() -> int:
        with count_queries() as counter:
            assert client.get(MINE, headers=auth).status_code == 200
        return counter.count

    CouponRecordFactory(user=student, coupon=CouponFactory(product=CourseFactory()))
    few = queries()
    for n in range(6):
        CouponRecordFactory(
            user=student,
            coupon=CouponFactory(product=CourseFactory()),
            order=make_order(student, f"2026010100000000010{n}"),
        )
    assert len(ok(client.get(MINE, headers=auth))) == 7
    assert queries() == few


def test_the_openapi_document_describes_the_coupon_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/coupons/available"]) == {"get"}
    claim = paths["/api/v1/coupons/{coupon_id}/claim"]["post"]
    assert {"201", "401", "404", "409"} <= set(claim["responses"])
    mine = paths["/api/v1/coupons/mine"]["get"]
    assert [p["name"] for p in mine["parameters"]] == ["status"]
    assert mine["security"] == [{"token": []}, {"session": []}]


def test_a_claim_is_part_of_the_callers_transaction(app, student):
    coupon_id = CouponFactory(quantity=5).id
    coupons.claim_coupon(student, coupon_id)
    db.session.rollback()  # the caller changes its mind: nothing of the claim stays
    assert records_of(coupon_id) == []
    assert claimed_count(coupon_id) == 0
