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

from app import unit_of_work
from app.blueprints.shop import bp
from app.i18n import period_text, say
from app.ids import parse_id
from app.models import ItemType, Order, OrderStatus
from app.models.types import utcnow
from app.money import money_label
from app.schemas import buying
from app.services import cart, orders, refunds, settlement
from app.services.errors import N_, DomainError, InvalidInput, NotFound
from app.services.offers import ITEM_TYPES, LineRef
from app.services.orders import busy_coupons
from app.services.payments.alipay import available_methods, check_method, pay_url_for

ORDERS_PER_PAGE = 10
MAX_PAGE = 1_000_000  # as the API's `page`: an offset any database takes
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
    """A positive id from a form field, or None (`²` and other non-ASCII digits too)."""
    return parse_id(value)


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
    return pay_url_for(current_app, order, request.host_url) or url_for(
        ".order_detail", order_no=order.order_no
    )


# --- cart ---------------------------------------------------------------------------------------


@bp.get("/cart")
def view_cart():
    contents = cart.cart_contents(_store(), _user_id())
    return render_template("shop/cart.html", cart=buying.cart_dict(contents))


@bp.post("/cart/add")
def add_to_cart():
    item_type = request.form.get("item_type", "")
    back = _product_url(item_type, _number(request.form.get("item_id")))
    try:
        ref = _line_from_form()
        if request.form.get("buy_now") and current_user.is_authenticated:
            _start_settlement([ref])
            return redirect(url_for(".view_settlement"))
        offer = cart.add_line(_store(), _user_id(), ref)
    except DomainError as exc:
        return _refused(exc, back)
    if request.form.get("buy_now"):  # a visitor: the line waits in the cart until they sign in
        flash(_("Please sign in to buy; your choice is in your cart."), "info")
        return redirect(_login_url(url_for(".view_cart")))
    flash(_("Added to your cart: %(name)s.", name=offer.product.name), "success")
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


def _start_settlement(refs: list[LineRef]) -> None:
    """Start the student's settlement of these lines and keep it as the page shows it."""
    now = utcnow()
    shown = buying.settlement_dict(settlement.start_settlement(current_user.id, refs, now), now)
    settlement.keep(current_user.id, shown)


@bp.post("/settlement")
def start_settlement():
    if not current_user.is_authenticated:
        flash(_("Please sign in to settle your cart."), "info")
        # Signed in, they go on to what they asked for: the settlement of their cart.
        return redirect(_login_url(url_for(".settle_cart")))
    try:
        if request.form.get("from_cart"):
            refs = settlement.cart_lines(current_user.id)
        else:
            refs = [_line_from_form()]
        _start_settlement(refs)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    return redirect(url_for(".view_settlement"))


@bp.get("/settlement/from-cart")
@login_required
def settle_cart():
    """The settlement of the whole cart, where signing in from the cart's Settle lands (a login
    comes back with a GET). It only prepares the student's own settlement from their own cart,
    as the cart's button does."""
    try:
        _start_settlement(settlement.cart_lines(current_user.id))
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    return redirect(url_for(".view_settlement"))


def _coupon_field(item: dict) -> str:
    return f"coupon-{item['item_type']}-{item['item_id']}"


def _line_key(item: dict) -> str:
    return f"{item['item_type']}:{item['item_id']}"


def _chosen_coupons(settle: dict, source=None) -> tuple[dict[str, int | None], int | None]:
    """The coupons picked in the settlement form (or a query string): one per line (by its key)
    and a site-wide one."""
    source = request.form if source is None else source
    chosen = {_line_key(item): _number(source.get(_coupon_field(item))) for item in settle["items"]}
    return chosen, _number(source.get("global_coupon"))


def _choice_args(chosen: dict[str, int | None], global_choice: int | None) -> dict[str, object]:
    """The coupons picked, as the settlement page's query string: what to show it with again."""
    args: dict[str, object] = {"chosen": 1}
    for key, record_id in chosen.items():
        item_type, _, item_id = key.partition(":")
        if record_id:
            args[f"coupon-{item_type}-{item_id}"] = record_id
    if global_choice:
        args["global_coupon"] = global_choice
    return args


def _order_lines(settle: dict, chosen: dict[str, int | None]) -> list[orders.OrderLineIn]:
    return [
        orders.OrderLineIn(
            LineRef(item["item_type"], item["item_id"], item["price_policy_id"]),
            chosen.get(_line_key(item)),
        )
        for item in settle["items"]
    ]


def _coupon_names(settle: dict, chosen: dict[str, int | None], global_choice: int | None):
    names = []
    for item in settle["items"]:
        for record in item["coupons"]:
            if record["id"] == chosen.get(_line_key(item)):
                names.append(record["coupon"]["name"])
    names += [r["coupon"]["name"] for r in settle["global_coupons"] if r["id"] == global_choice]
    return names


def _settlement_page(
    settle: dict, chosen: dict[str, int | None], global_choice: int | None, picked: bool = False
):
    quote = buying.quote_dict(
        settlement.quote_settlement(
            current_user.id, _order_lines(settle, chosen), global_choice, utcnow()
        )
    )
    methods = available_methods(current_app)
    quoted_lines = {f"{q['item_type']}:{q['item_id']}": q for q in quote["items"]}
    total = sum((Decimal(q["price"]) for q in quote["items"]), Decimal("0.00"))
    course_discount = sum((Decimal(q["discount"]) for q in quote["items"]), Decimal("0.00"))
    offered = any(item["coupons"] for item in settle["items"]) or bool(settle["global_coupons"])
    return render_template(
        "shop/settlement.html",
        settlement=settle,
        quote=quote,
        quoted_lines=quoted_lines,
        periods={
            _line_key(item): period_text(item["valid_period"])
            for item in settle["items"]
            if item.get("valid_period") is not None
        },
        total=total,
        course_discount=course_discount,
        chosen=chosen,
        global_choice=global_choice,
        picked=picked and offered,
        picked_names=_coupon_names(settle, chosen, global_choice),
        methods=methods,
        chosen_method=request.values.get("payment_method") or (methods[0] if methods else None),
        idempotency_key=secrets.token_urlsafe(16),
    )


@bp.get("/settlement")
@login_required
def view_settlement():
    """The settlement with the coupons named in the query string (kept across a refused Pay),
    or else with the combination of the student's coupons that makes the total lowest."""
    try:
        settle = settlement.current_settlement(current_user.id)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    if request.args.get("chosen"):
        chosen, global_choice = _chosen_coupons(settle, request.args)
        try:
            return _settlement_page(settle, chosen, global_choice)
        except DomainError as exc:  # a coupon used meanwhile: say so, pick again
            flash(_refusal_text(exc), "warning")
    chosen, global_choice = settlement.best_coupons(current_user.id, settle, utcnow())
    try:
        return _settlement_page(settle, chosen, global_choice, picked=True)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))


@bp.post("/settlement/quote")
@login_required
def quote_settlement():
    """`Update total` without JavaScript: the page again with the coupons picked."""
    try:
        settle = settlement.current_settlement(current_user.id)
    except DomainError as exc:
        return _refused(exc, url_for(".view_cart"))
    chosen, global_choice = _chosen_coupons(settle)
    try:
        return _settlement_page(settle, chosen, global_choice)
    except DomainError as exc:
        return _refused(exc, url_for(".view_settlement", **_choice_args({}, None)))


# --- orders -------------------------------------------------------------------------------------


def _pending_elsewhere(exc: orders.PendingOrderConflict):
    """An item is in another pending order: to that order, which offers Pay and Cancel."""
    flash(_refusal_text(exc), "warning")
    order_no = exc.extra.get("order_no")
    if order_no:
        return redirect(url_for(".order_detail", order_no=order_no))
    return redirect(url_for(".view_settlement"))


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
        check_method(current_app, method)
        next_url, paid = unit_of_work.run(work, busy=busy_coupons)
    except orders.DuplicateSubmission:
        # a double click that lost the race: the first order it is
        return redirect(_next_after_order(orders.find_by_idempotency_key(user_id, key)))
    except orders.PendingOrderConflict as exc:
        return _pending_elsewhere(exc)
    except DomainError as exc:
        # Back to the settlement with the coupons the student picked (never reset).
        back = url_for(".view_settlement", **_choice_args(chosen, global_choice))
        if exc.slug == "amount_mismatch":
            flash(
                _(
                    "The amount has changed; the new amount is %(amount)s. Please check it "
                    "and pay again.",
                    amount=money_label(exc.extra.get("amount", "0")),
                ),
                "warning",
            )
        else:
            flash(_refusal_text(exc), "danger")
        return redirect(back)
    if paid:
        flash(_("Your order is complete. Enjoy your course!"), "success")
    return redirect(next_url)


@bp.get("/orders")
@login_required
def list_orders():
    # Not a page number: the first page; past the end: the last one (never an error page).
    page = min(parse_id(request.args.get("page")) or 1, MAX_PAGE)

    def work() -> str:  # pending orders past their time are expired on the way
        shown = page
        found = orders.list_orders(current_user.id, shown, ORDERS_PER_PAGE, utcnow())
        pages = max((found.total + ORDERS_PER_PAGE - 1) // ORDERS_PER_PAGE, 1)
        if shown > pages:
            shown = pages
            found = orders.list_orders(current_user.id, shown, ORDERS_PER_PAGE, utcnow())
        return render_template("shop/orders.html", orders=found.items, page=shown, pages=pages)

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
            pay_url=pay_url_for(current_app, order, request.host_url),
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
