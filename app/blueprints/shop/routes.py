"""The shop's pages: thin views that parse a form, call one service and redirect."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import unit_of_work
from app.blueprints.shop import bp
from app.extensions import db
from app.i18n import say
from app.models import CourseChapter, CourseSection, ItemType, Order, OrderStatus
from app.models.types import utcnow
from app.services import cart, catalog, enrollment, orders, payments, refunds, settlement
from app.services.errors import N_, DomainError, InvalidInput, NotFound
from app.services.offers import ITEM_TYPES, LineRef
from app.services.orders import busy_coupons

ORDERS_PER_PAGE = 10
REFUND_REASON_MAX = 500


# --- helpers ------------------------------------------------------------------------------------


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _store() -> cart.CartStore:
    """A signed-in student's cart in Redis, a visitor's in the session."""
    if current_user.is_authenticated:
        return cart.RedisCart(current_user.id)
    return cart.SessionCart(session)


def _number(value: str | None) -> int | None:
    """A positive id from a form field, or None."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    number = int(value.strip())
    return number or None


def _line_from_form() -> LineRef:
    item_type = request.form.get("item_type", "")
    item_id = _number(request.form.get("item_id"))
    policy_id = _number(request.form.get("price_policy_id"))
    if item_type not in ITEM_TYPES or item_id is None:
        raise NotFound(N_("No such course."))
    if policy_id is None:
        raise InvalidInput(N_("Please choose how long you want to study."))
    return LineRef(item_type, item_id, policy_id)


def _product_url(item_type: str, item_id: int | None) -> str:
    if item_id is None:
        return url_for("courses.list_courses")
    if item_type == ItemType.DEGREE_COURSE:
        return url_for("courses.degree_detail", degree_id=item_id)
    return url_for("courses.course_detail", course_id=item_id)


def _login_url(next_path: str) -> str:
    return url_for("auth.login", next=next_path)


def _refused(exc: DomainError, back: str):
    flash(_refusal_text(exc), "danger")
    return redirect(back)


def _refusal_text(exc: DomainError) -> str:
    """A service's refusal in the visitor's language: its message, and what it says of the
    fields when the message is only the general one (`The request is not valid.`)."""
    if exc.fields and exc.message == exc.default_message:
        return " ".join(say(message) for message in exc.fields.values())
    return say(exc.message)


def _next_after_order(order: Order) -> str:
    """Where the buyer goes once an order exists: the gateway, or the order when nothing is due."""
    return payments.pay_url_for(current_app, order) or url_for(
        ".order_detail", order_no=order.order_no
    )


# --- cart ---------------------------------------------------------------------------------------


@bp.get("/cart")
def view_cart():
    contents = cart.cart_contents(_store(), _user_id())
    return render_template("shop/cart.html", cart=contents)


@bp.post("/cart/add")
def add_to_cart():
    item_type = request.form.get("item_type", "")
    back = _product_url(item_type, _number(request.form.get("item_id")))
    try:
        ref = _line_from_form()
        if request.form.get("buy_now") and current_user.is_authenticated:
            settlement.start_settlement(current_user.id, [ref], utcnow())
            return redirect(url_for(".view_settlement"))
        line = cart.add_line(_store(), _user_id(), ref)
    except DomainError as exc:
        return _refused(exc, back)
    if request.form.get("buy_now"):  # a visitor: the line waits in the cart until they sign in
        flash(_("Please sign in to buy; your choice is in your cart."), "info")
        return redirect(_login_url(url_for(".view_cart")))
    flash(_("Added to your cart: %(name)s.", name=line["name"]), "success")
    return redirect(url_for(".view_cart"))


@bp.post("/cart/<item_type>/<int:item_id>/policy")
def change_cart_policy(item_type: str, item_id: int):
    if item_type not in ITEM_TYPES:
        abort(404)
    try:
        policy_id = _number(request.form.get("price_policy_id"))
        if policy_id is None:
            raise InvalidInput(N_("Please choose how long you want to study."))
        cart.change_policy(_store(), _user_id(), LineRef(item_type, item_id, policy_id))
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    flash(_("Your cart was updated."), "success")
    return redirect(url_for(".view_cart"))


@bp.post("/cart/<item_type>/<int:item_id>/remove")
def remove_from_cart(item_type: str, item_id: int):
    if item_type not in ITEM_TYPES:
        abort(404)
    try:
        cart.remove_line(_store(), item_type, item_id)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    flash(_("Removed from your cart."), "success")
    return redirect(url_for(".view_cart"))


# --- settlement ---------------------------------------------------------------------------------


@bp.post("/settlement")
def start_settlement():
    if not current_user.is_authenticated:
        flash(_("Please sign in to settle your cart."), "info")
        return redirect(_login_url(url_for(".view_cart")))
    try:
        if request.form.get("from_cart"):
            refs = settlement.cart_lines(current_user.id)
        else:
            refs = [_line_from_form()]
        settlement.start_settlement(current_user.id, refs, utcnow())
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    return redirect(url_for(".view_settlement"))


def _chosen_coupons(settle: dict) -> tuple[dict[str, int | None], int | None]:
    """The coupons picked in the settlement form: one per line (by its key) and a site-wide one."""
    chosen = {
        f"{item['item_type']}:{item['item_id']}": _number(
            request.form.get(f"coupon-{item['item_type']}-{item['item_id']}")
        )
        for item in settle["items"]
    }
    return chosen, _number(request.form.get("global_coupon"))


def _order_lines(settle: dict, chosen: dict[str, int | None]) -> list[orders.OrderLineIn]:
    return [
        orders.OrderLineIn(
            LineRef(item["item_type"], item["item_id"], item["price_policy_id"]),
            chosen.get(f"{item['item_type']}:{item['item_id']}"),
        )
        for item in settle["items"]
    ]


def _settlement_page(settle: dict, chosen: dict[str, int | None], global_choice: int | None):
    quote = settlement.quote_settlement(
        current_user.id, _order_lines(settle, chosen), global_choice, utcnow()
    )
    methods = payments.available_methods(current_app)
    return render_template(
        "shop/settlement.html",
        settlement=settle,
        quote=quote,
        quoted_lines={f"{q['item_type']}:{q['item_id']}": q for q in quote["items"]},
        chosen=chosen,
        global_choice=global_choice,
        methods=methods,
        chosen_method=request.form.get("payment_method") or (methods[0] if methods else None),
        idempotency_key=secrets.token_urlsafe(16),
    )


@bp.get("/settlement")
@login_required
def view_settlement():
    try:
        settle = settlement.current_settlement(current_user.id)
        return _settlement_page(settle, {}, None)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))


@bp.post("/settlement/quote")
@login_required
def quote_settlement():
    try:
        settle = settlement.current_settlement(current_user.id)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    chosen, global_choice = _chosen_coupons(settle)
    try:
        return _settlement_page(settle, chosen, global_choice)
    except DomainError as exc:
        return _refused(exc, url_for(".view_settlement"))


# --- orders -------------------------------------------------------------------------------------


@bp.post("/orders")
@login_required
def place_order():
    user_id = current_user.id
    key = request.form.get("idempotency_key") or None
    if key is not None and not orders.IDEMPOTENCY_KEY.fullmatch(key):
        key = None
    if key and (first := orders.find_by_idempotency_key(user_id, key)):
        return redirect(_next_after_order(first))
    try:
        settle = settlement.current_settlement(user_id)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    chosen, global_choice = _chosen_coupons(settle)
    method = request.form.get("payment_method", "")
    try:
        expected = Decimal(request.form.get("expected_amount", ""))
    except InvalidOperation:
        expected = None

    def work() -> tuple[str, bool]:
        order = orders.place_order(
            user_id,
            _order_lines(settle, chosen),
            global_choice,
            expected,
            method,
            utcnow(),
            idempotency_key=key,
        )
        paid = order.status == OrderStatus.PAID  # an order of amount 0: paid at once
        if paid:
            cart.forget_bought(order)
        return _next_after_order(order), paid

    try:
        if expected is None or not expected.is_finite():
            raise InvalidInput(N_("The amount is missing; please check the total again."))
        payments.check_method(current_app, method)
        next_url, paid = unit_of_work.run(work, busy=busy_coupons)
    except orders.DuplicateSubmission:
        # a double click that lost the race: the first order it is
        return redirect(_next_after_order(orders.find_by_idempotency_key(user_id, key)))
    except DomainError as exc:
        if exc.slug == "amount_mismatch":
            flash(
                _(
                    "The amount has changed; the new amount is %(amount)s. Please check it "
                    "and pay again.",
                    amount=exc.extra.get("amount", ""),
                ),
                "warning",
            )
        else:
            flash(_refusal_text(exc), "danger")
        return redirect(url_for(".view_settlement"))
    if paid:
        flash(_("Your order is complete. Enjoy your course!"), "success")
    return redirect(next_url)


@bp.get("/orders")
@login_required
def list_orders():
    page = max(request.args.get("page", 1, type=int) or 1, 1)

    def work() -> str:  # pending orders past their time are expired on the way
        found = orders.list_orders(current_user.id, page, ORDERS_PER_PAGE, utcnow())
        pages = max((found["total"] + ORDERS_PER_PAGE - 1) // ORDERS_PER_PAGE, 1)
        return render_template("shop/orders.html", orders=found["orders"], page=page, pages=pages)

    return unit_of_work.run(work)


@bp.get("/orders/<order_no>")
@login_required
def order_detail(order_no: str):
    now = utcnow()

    def work() -> str:  # a pending order past its time is expired on the way
        order = orders.get_order(current_user.id, order_no, now)
        return render_template(
            "shop/order.html",
            order=order,
            pay_url=payments.pay_url_for(current_app, order),
            refund_allowed=orders.refund_window_open(order, now),
        )

    return unit_of_work.run(work)


def _order_step(order_no: str, step: Callable[[], Order], done: str, refused: str | None = None):
    """One state change of the student's own order (one transaction, tried again on a
    deadlock), then back to the order with `done`, or with the refusal (`refused` for a
    `refund_not_allowed`, when given); an unknown order is a 404."""
    back = url_for(".order_detail", order_no=order_no)
    try:
        unit_of_work.run(step)
    except NotFound:
        raise
    except DomainError as exc:
        if refused is not None and exc.slug == "refund_not_allowed":
            flash(refused, "warning")
            return redirect(back)
        return _refused(exc, back)
    flash(done, "success")
    return redirect(back)


@bp.post("/orders/<order_no>/cancel")
@login_required
def cancel_order(order_no: str):
    return _order_step(
        order_no,
        lambda: orders.cancel_order(current_user.id, order_no, utcnow()),
        _("The order was cancelled."),
    )


@bp.post("/orders/<order_no>/refund")
@login_required
def request_refund(order_no: str):
    reason = (request.form.get("reason") or "").strip()

    def step() -> Order:
        if not reason or len(reason) > REFUND_REASON_MAX:
            raise InvalidInput(
                _("Please say why, in at most %(num)d characters.", num=REFUND_REASON_MAX)
            )
        return orders.request_refund(current_user.id, order_no, reason, utcnow())

    return _order_step(order_no, step, _("Your refund request was sent."))


@bp.post("/orders/<order_no>/refund/withdraw")
@login_required
def withdraw_refund(order_no: str):
    return _order_step(
        order_no,
        lambda: refunds.withdraw_refund(current_user.id, order_no, utcnow()),
        _("Your refund request was withdrawn."),
        refused=_("This refund request is no longer open; see the order's state."),
    )


# --- studying -----------------------------------------------------------------------------------


def _first_sections(course_ids: list[int]) -> dict[int, int]:
    """Each course's first section, in one query."""
    if not course_ids:
        return {}
    rows = db.session.execute(
        select(CourseChapter.course_id, CourseSection.id)
        .join(CourseSection, CourseSection.chapter_id == CourseChapter.id)
        .where(CourseChapter.course_id.in_(course_ids))
        .order_by(CourseChapter.number.desc(), CourseSection.position.desc())
    ).all()
    return {course_id: section_id for course_id, section_id in rows}  # the last one wins


@bp.get("/my/courses")
@login_required
def my_courses():
    mine = enrollment.my_enrollments(current_user.id, utcnow())
    first = _first_sections([e["item_id"] for e in mine if e["item_type"] == ItemType.COURSE])
    return render_template("shop/my_courses.html", enrollments=mine, first_sections=first)


@bp.get("/learn/<int:course_id>/<int:section_id>")
def learn(course_id: int, section_id: int):
    section = db.session.scalar(
        select(CourseSection)
        .where(CourseSection.id == section_id)
        .options(joinedload(CourseSection.chapter))
    )
    if section is None or section.chapter.course_id != course_id:
        abort(404)
    course = catalog.get_course(course_id)  # a hidden course is a 404 too
    if not section.free_trial:
        if not current_user.is_authenticated:
            return redirect(_login_url(request.path))
        if not enrollment.can_study(current_user.id, course_id, utcnow()):
            abort(403)
    return render_template("shop/learn.html", course=course, section=section)
