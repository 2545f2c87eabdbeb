"""Staff create and edit coupons of the three kinds, issue them to chosen users or to every
student within the quantity, and read the records; invalid coupons get field messages and
nothing is stored."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Coupon, CouponRecord
from app.models.types import utcnow
from app.services import coupons
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.pages import html, sign_in
from tests.shop_data import make_order

TIME = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(autouse=True)
def english(client):
    """Staff read these pages in English here (the messages tested are the msgids)."""
    client.set_cookie("lang", "en")


def coupon_form(**overrides) -> dict[str, str]:
    now = utcnow()
    form = {
        "name": "Spring sale",
        "brief": "Ten off anything.",
        "kind": "money_off",
        "value": "10.00",
        "off_percent": "",
        "minimum_consume": "0",
        "product": "__None",
        "quantity": "100",
        "claim_start": (now - timedelta(days=1)).strftime(TIME),
        "claim_end": (now + timedelta(days=30)).strftime(TIME),
        "valid_from": "",
        "valid_until": "",
        "valid_days": "30",
        "active": "y",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def coupon_count() -> int:
    return db.session.scalar(select(func.count(Coupon.id)))


def the_coupon(name: str = "Spring sale") -> Coupon | None:
    db.session.expire_all()
    return db.session.scalar(select(Coupon).where(Coupon.name == name))


def create(staff_client, **overrides):
    return staff_client.post("/admin/coupons/new/", data=coupon_form(**overrides))


# --- creating and editing -----------------------------------------------------------------------


def test_staff_create_a_site_wide_money_off_coupon(staff_client):
    response = create(staff_client)
    assert response.status_code == 302, response.get_data(as_text=True)
    coupon = the_coupon()
    assert (coupon.kind, coupon.value, coupon.off_percent) == ("money_off", Decimal("10.00"), None)
    assert coupon.minimum_consume == Decimal("0.00")
    assert (coupon.product_id, coupon.quantity, coupon.valid_days) == (None, 100, 30)
    assert coupon.claim_start.tzinfo is not None
    assert coupon.active is True


def test_staff_create_a_threshold_coupon_for_a_course_with_fixed_use_dates(staff_client):
    course = CourseFactory()
    now = utcnow()
    response = create(
        staff_client,
        kind="threshold",
        value="50",
        minimum_consume="300",
        product=str(course.id),
        quantity="",
        valid_days="",
        valid_from=now.strftime(TIME),
        valid_until=(now + timedelta(days=60)).strftime(TIME),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    coupon = the_coupon()
    assert (coupon.kind, coupon.value, coupon.minimum_consume) == (
        "threshold",
        Decimal("50.00"),
        Decimal("300.00"),
    )
    assert coupon.product_id == course.id
    assert coupon.quantity is None  # unlimited
    assert coupon.valid_days is None
    assert coupon.valid_until - coupon.valid_from == timedelta(days=60)


def test_staff_create_a_percent_coupon(staff_client):
    response = create(staff_client, kind="percent", value="", off_percent="80")
    assert response.status_code == 302, response.get_data(as_text=True)
    coupon = the_coupon()
    assert (coupon.kind, coupon.value, coupon.off_percent) == ("percent", None, 80)


def test_a_created_coupon_can_be_claimed_by_a_student(staff_client, app):
    create(staff_client, quantity="1")
    student = UserFactory()
    record = coupons.claim_coupon(student, the_coupon().id)
    db.session.commit()
    assert record.valid_until - record.valid_from == timedelta(days=30)


def test_staff_edit_a_coupon(staff_client):
    coupon = CouponFactory(name="Old name", value=Decimal("5.00"), quantity=10)
    response = staff_client.post(
        f"/admin/coupons/edit/?id={coupon.id}",
        data=coupon_form(name="New name", value="7.50", quantity="20"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    edited = the_coupon("New name")
    assert (edited.id, edited.value, edited.quantity) == (coupon.id, Decimal("7.50"), 20)


def test_the_edit_page_shows_the_coupon(staff_client):
    coupon = CouponFactory(name="Shown coupon")
    page = html(staff_client.get(f"/admin/coupons/edit/?id={coupon.id}"))
    assert 'value="Shown coupon"' in page


def test_the_list_shows_what_each_coupon_does(staff_client):
    CouponFactory(name="Ten off", kind="money_off", value=Decimal("10.00"))
    CouponFactory(
        name="Fifty off 300",
        kind="threshold",
        value=Decimal("50.00"),
        minimum_consume=Decimal("300.00"),
    )
    CouponFactory(name="Eighty percent", kind="percent", value=None, off_percent=80)
    page = html(staff_client.get("/admin/coupons/"))
    assert "¥10.00 off" in page
    assert "¥50.00 off from ¥300.00" in page
    assert "pay 80%" in page
    assert "Site-wide" in page


def test_a_coupon_students_hold_is_not_deleted(staff_client):
    record = CouponRecordFactory()
    response = staff_client.post(
        "/admin/coupons/delete/", data={"id": str(record.coupon_id)}, follow_redirects=True
    )
    assert "switch it off" in html(response)
    assert db.session.get(Coupon, record.coupon_id) is not None


def test_a_coupon_nobody_holds_may_be_deleted(staff_client):
    coupon = CouponFactory()
    staff_client.post("/admin/coupons/delete/", data={"id": str(coupon.id)})
    assert coupon_count() == 0


# --- refused with field messages ----------------------------------------------------------------

BAD_COUPONS = [
    pytest.param(
        {"kind": "percent", "value": "", "off_percent": "0"},
        "Must be from 1 to 100",
        id="percent-0",
    ),
    pytest.param(
        {"kind": "percent", "value": "", "off_percent": "101"},
        "Must be from 1 to 100",
        id="percent-101",
    ),
    pytest.param(
        {"kind": "percent", "value": "", "off_percent": "-5"},
        "Must be from 1 to 100",
        id="percent-negative",
    ),
    pytest.param(
        {"kind": "percent", "value": "", "off_percent": ""},
        "needs the percent paid",
        id="percent-missing",
    ),
    pytest.param(
        {"kind": "percent", "value": "10", "off_percent": "80"},
        "has no amount off",
        id="percent-with-value",
    ),
    pytest.param({"value": ""}, "needs an amount off", id="money-off-value-missing"),
    pytest.param(
        {"kind": "threshold", "value": "", "minimum_consume": "100"},
        "needs an amount off",
        id="threshold-value-missing",
    ),
    pytest.param({"value": "-1"}, "Must be 0 or more.", id="negative-value"),
    pytest.param({"value": "0"}, "Must be more than 0.", id="zero-value"),
    pytest.param({"value": "NaN"}, "Not a number.", id="nan-value"),
    pytest.param({"value": "1e20"}, "Too large.", id="huge-value"),
    pytest.param({"value": "ten"}, "Not a valid decimal value", id="text-value"),
    pytest.param(
        {"off_percent": "80"}, "Only a percent coupon has a percent", id="money-off-with-percent"
    ),
    pytest.param(
        {"kind": "threshold", "minimum_consume": "-10"}, "Must be 0 or more.", id="negative-minimum"
    ),
    pytest.param(
        {"kind": "threshold", "minimum_consume": "0"},
        "needs a minimum spend above 0",
        id="threshold-without-minimum",
    ),
    pytest.param({"minimum_consume": "50"}, "has no minimum spend", id="money-off-with-minimum"),
    pytest.param({"quantity": "-1"}, "Must be 0 or more.", id="negative-quantity"),
    pytest.param({"quantity": "99999999999999"}, "Too large.", id="huge-quantity"),
    pytest.param({"valid_days": "0"}, "Must be from 1 to 3650.", id="zero-days"),
    pytest.param({"valid_days": "-3"}, "Must be from 1 to 3650.", id="negative-days"),
    pytest.param({"valid_days": "1000000000"}, "Must be from 1 to 3650.", id="huge-days"),
    pytest.param({"kind": "gift"}, "Not a valid choice", id="unknown-kind"),
    pytest.param({"claim_end": ""}, "This field is required.", id="claim-end-missing"),
    pytest.param(
        {"claim_start": "yesterday"}, "Not a valid datetime value", id="claim-start-garbage"
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_COUPONS)
def test_an_invalid_coupon_gets_a_field_message_and_is_not_stored(staff_client, overrides, message):
    page = html(create(staff_client, **overrides))
    assert message in page
    assert "is-invalid" in page  # next to its field
    assert coupon_count() == 0


def test_a_claim_window_ending_before_it_starts_is_refused(staff_client):
    now = utcnow()
    page = html(
        create(
            staff_client,
            claim_start=(now + timedelta(days=5)).strftime(TIME),
            claim_end=(now + timedelta(days=1)).strftime(TIME),
        )
    )
    assert "Must be after the start." in page
    assert coupon_count() == 0


def test_a_use_window_ending_before_it_starts_is_refused(staff_client):
    now = utcnow()
    page = html(
        create(
            staff_client,
            valid_days="",
            valid_from=(now + timedelta(days=9)).strftime(TIME),
            valid_until=(now + timedelta(days=2)).strftime(TIME),
        )
    )
    assert "Must be after the start." in page
    assert coupon_count() == 0


def test_a_use_window_over_before_claiming_starts_is_refused(staff_client):
    now = utcnow()
    page = html(
        create(
            staff_client,
            valid_days="",
            claim_start=(now + timedelta(days=3)).strftime(TIME),
            valid_until=(now + timedelta(days=2)).strftime(TIME),
        )
    )
    assert "The use window ends before claiming starts." in page
    assert coupon_count() == 0


def test_fixed_use_dates_and_days_after_claiming_together_are_refused(staff_client):
    page = html(
        create(
            staff_client,
            valid_days="30",
            valid_until=(utcnow() + timedelta(days=60)).strftime(TIME),
        )
    )
    assert "not both" in page
    assert coupon_count() == 0


def test_the_quantity_cannot_go_below_what_is_claimed(staff_client):
    coupon = CouponFactory(name="Spring sale", quantity=10, claimed=6)
    page = html(
        staff_client.post(f"/admin/coupons/edit/?id={coupon.id}", data=coupon_form(quantity="5"))
    )
    assert "Less than the number already claimed." in page
    assert "Already claimed: 6." in html(staff_client.get(f"/admin/coupons/edit/?id={coupon.id}"))
    assert the_coupon().quantity == 10
    # As many as are claimed is fine.
    response = staff_client.post(
        f"/admin/coupons/edit/?id={coupon.id}", data=coupon_form(quantity="6")
    )
    assert response.status_code == 302
    assert the_coupon().quantity == 6


def test_a_form_without_its_csrf_token_is_refused(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        client = app.test_client()
        sign_in(client, UserFactory(is_staff=True))
        response = client.post("/admin/coupons/new/", data=coupon_form())
        assert response.status_code in (200, 400)
        assert coupon_count() == 0
        issue = client.post(
            f"/admin/coupons/issue/?id={CouponFactory().id}",
            data={"recipients": "students"},
        )
        assert issue.status_code == 400
        assert db.session.scalar(select(func.count(CouponRecord.id))) == 0


# --- issuing ------------------------------------------------------------------------------------


def issue(staff_client, coupon, usernames: str | None = None, **extra):
    data = (
        {"recipients": "students"}
        if usernames is None
        else {"recipients": "listed", "usernames": usernames}
    )
    return staff_client.post(
        f"/admin/coupons/issue/?id={coupon.id}", data={**data, **extra}, follow_redirects=True
    )


def holders(coupon) -> list[str]:
    db.session.expire_all()
    records = db.session.scalars(select(CouponRecord).where(CouponRecord.coupon_id == coupon.id))
    return sorted(r.user.username for r in records)


def test_the_issue_page_is_linked_from_the_list_and_the_details(staff_client):
    coupon = CouponFactory()
    link = f"/admin/coupons/issue/?id={coupon.id}"
    assert link in html(staff_client.get("/admin/coupons/"))
    assert link in html(staff_client.get(f"/admin/coupons/details/?id={coupon.id}"))
    page = html(staff_client.get(link))
    assert "Every active student" in page
    assert 'name="usernames"' in page


def test_issue_to_listed_usernames(staff_client):
    coupon = CouponFactory(valid_days=7)
    UserFactory(username="alice")
    UserFactory(username="bob")
    UserFactory(username="carol")
    page = html(issue(staff_client, coupon, "alice\nBOB, ghost\n\n alice "))
    assert holders(coupon) == ["alice", "bob"]
    assert "Issued to 2 students." in page
    assert "No such user: ghost." in page
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).claimed == 2
    record = db.session.scalar(select(CouponRecord).where(CouponRecord.coupon_id == coupon.id))
    assert record.status == "unused"
    assert record.valid_until - record.valid_from == timedelta(days=7)
    assert len(record.code) == coupons.CODE_LENGTH


def test_issue_to_every_active_student(staff_client, staff):
    coupon = CouponFactory()
    for name in ("dan", "erin", "frank"):
        UserFactory(username=name)
    UserFactory(username="gone", active=False)
    UserFactory(username="helper", is_staff=True)
    page = html(issue(staff_client, coupon))
    assert holders(coupon) == ["dan", "erin", "frank"]
    assert "Issued to 3 students." in page


def test_users_who_hold_the_coupon_already_are_skipped(staff_client):
    coupon = CouponFactory(quantity=10, claimed=1)
    held = CouponRecordFactory(coupon=coupon, user=UserFactory(username="ivy"))
    UserFactory(username="jack")
    page = html(issue(staff_client, coupon, "ivy, jack"))
    assert holders(coupon) == ["ivy", "jack"]
    assert "1 already held it." in page
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).claimed == 2
    assert db.session.get(CouponRecord, held.id).code == held.code  # untouched


def test_issuing_respects_the_quantity(staff_client):
    coupon = CouponFactory(quantity=3, claimed=1)
    CouponRecordFactory(coupon=coupon, user=UserFactory(username="kim"))
    for name in ("leo", "mia", "ned", "oli"):
        UserFactory(username=name)
    page = html(issue(staff_client, coupon, "kim leo mia ned oli"))
    assert holders(coupon) == ["kim", "leo", "mia"]
    assert "Not issued, none left: ned, oli." in page
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).claimed == 3


def test_issuing_ignores_the_claim_window(staff_client):
    now = utcnow()
    coupon = CouponFactory(claim_start=now - timedelta(days=9), claim_end=now - timedelta(days=1))
    UserFactory(username="pam")
    issue(staff_client, coupon, "pam")
    assert holders(coupon) == ["pam"]


def test_a_switched_off_coupon_is_not_issued(staff_client):
    coupon = CouponFactory(active=False)
    UserFactory(username="quinn")
    page = html(issue(staff_client, coupon, "quinn"))
    assert "switched off" in page
    assert holders(coupon) == []


def test_a_coupon_whose_use_window_is_over_is_not_issued(staff_client):
    now = utcnow()
    coupon = CouponFactory(
        valid_days=None, valid_from=now - timedelta(days=5), valid_until=now - timedelta(days=1)
    )
    UserFactory(username="rita")
    page = html(issue(staff_client, coupon, "rita"))
    assert "use window is over" in page
    assert holders(coupon) == []


def test_a_deactivated_user_named_is_left_out(staff_client):
    coupon = CouponFactory()
    UserFactory(username="ray", active=False)
    page = html(issue(staff_client, coupon, "ray"))
    assert "Not issued, account switched off: ray." in page
    assert holders(coupon) == []


def test_an_empty_list_of_names_is_refused(staff_client):
    coupon = CouponFactory()
    page = html(issue(staff_client, coupon, " , \n"))
    assert "Name at least one user" in page
    assert holders(coupon) == []


def test_issuing_an_unknown_coupon_goes_back_to_the_list(staff_client):
    response = staff_client.get("/admin/coupons/issue/?id=999999")
    assert response.status_code == 302
    assert staff_client.get("/admin/coupons/issue/?id=abc").status_code == 302


def test_too_many_names_are_refused(staff_client):
    coupon = CouponFactory()
    names = ",".join(f"user{i}" for i in range(2001))
    page = html(issue(staff_client, coupon, names))
    assert "At most 2000 names at a time." in page
    assert holders(coupon) == []


# --- records ------------------------------------------------------------------------------------


def test_records_list_shows_status_as_of_now_and_the_order(staff_client):
    now = utcnow()
    coupon = CouponFactory(name="Records coupon")
    CouponRecordFactory(coupon=coupon, user=UserFactory(username="sam"), code="CODESAM")
    CouponRecordFactory(
        coupon=coupon,
        user=UserFactory(username="tess"),
        code="CODETESS",
        valid_from=now - timedelta(days=10),
        valid_until=now - timedelta(days=1),
    )
    uma = UserFactory(username="uma")
    order = make_order(uma, records=[CouponRecordFactory(coupon=coupon, user=uma, code="CODEUMA")])
    page = html(staff_client.get("/admin/coupon-records/"))
    for text in ("CODESAM", "CODETESS", "CODEUMA", "Records coupon", "sam", "tess"):
        assert text in page
    assert "Expired" in page
    assert order.order_no in page


def record_codes(staff_client, query: str) -> list[str]:
    page = html(staff_client.get(f"/admin/coupon-records/?{query}"))
    return sorted(code for code in ("CODEA", "CODEB", "CODEC", "CODED") if code in page)


def test_records_filtered_by_coupon_and_status_and_searched(staff_client):
    now = utcnow()
    first, second = CouponFactory(), CouponFactory()
    CouponRecordFactory(coupon=first, code="CODEA", user=UserFactory(username="vera"))
    CouponRecordFactory(
        coupon=first,
        code="CODEB",
        valid_from=now - timedelta(days=3),
        valid_until=now - timedelta(days=1),
    )
    CouponRecordFactory(coupon=second, code="CODEC", status="used")
    CouponRecordFactory(coupon=second, code="CODED", status="reserved")

    view_url = staff_client.get(f"/admin/coupons/details/?id={first.id}").get_data(as_text=True)
    assert "/admin/coupon-records/?flt0_0=" in view_url

    assert record_codes(staff_client, f"flt0_0={first.id}") == ["CODEA", "CODEB"]
    assert record_codes(staff_client, "flt0_1=expired") == ["CODEB"]
    assert record_codes(staff_client, "flt0_1=unused") == ["CODEA"]
    assert record_codes(staff_client, "flt0_1=used") == ["CODEC"]
    assert record_codes(staff_client, f"flt0_0={second.id}&flt1_1=reserved") == ["CODED"]
    assert record_codes(staff_client, "search=vera") == ["CODEA"]
    assert record_codes(staff_client, "search=CODEC") == ["CODEC"]


def test_a_bad_record_filter_value_is_ignored_not_an_error(staff_client):
    CouponRecordFactory(code="CODEA")
    assert record_codes(staff_client, "flt0_1=bogus") == ["CODEA"]
    assert record_codes(staff_client, "flt0_0=abc") == ["CODEA"]


def test_records_are_read_only(staff_client):
    record = CouponRecordFactory()
    assert staff_client.get("/admin/coupon-records/new/").status_code == 302
    staff_client.post("/admin/coupon-records/delete/", data={"id": str(record.id)})
    assert db.session.get(CouponRecord, record.id) is not None


@pytest.mark.parametrize(
    "path",
    [
        "/admin/coupons/",
        "/admin/coupons/new/",
        "/admin/coupons/issue/?id=1",
        "/admin/coupon-records/",
    ],
)
def test_a_student_is_refused_every_coupon_page(app, client, path):
    sign_in(client, UserFactory())
    assert client.get(path).status_code == 403


def test_a_student_cannot_issue(app, client):
    coupon = CouponFactory()
    student = UserFactory(username="sneaky")
    sign_in(client, student)
    response = client.post(
        f"/admin/coupons/issue/?id={coupon.id}",
        data={"recipients": "listed", "usernames": "sneaky"},
    )
    assert response.status_code == 403
    assert holders(coupon) == []


def test_coupon_pages_have_no_inline_event_handlers(staff_client):
    coupon = CouponFactory()
    CouponRecordFactory(coupon=coupon)
    for path in (
        "/admin/coupons/",
        "/admin/coupons/new/",
        f"/admin/coupons/edit/?id={coupon.id}",
        f"/admin/coupons/details/?id={coupon.id}",
        f"/admin/coupons/issue/?id={coupon.id}",
        "/admin/coupon-records/",
    ):
        assert not re.search(r"\son[a-z]+=", html(staff_client.get(path))), path
