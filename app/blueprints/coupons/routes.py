"""The coupon centre: claimable coupons as cards, claiming one, and "My coupons" by status."""

from __future__ import annotations

from collections import Counter

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from app import unit_of_work
from app.blueprints.coupons import bp
from app.i18n import say
from app.models.types import utcnow
from app.schemas.coupons import coupon_card, record_dict
from app.services import coupons
from app.services.errors import DomainError


def login_url(next_path: str) -> str | None:
    """The login page that comes back to `next_path`, while there is one."""
    try:
        return url_for("auth.login", next=next_path)
    except BuildError:
        return None


@bp.get("/coupons")
def coupon_centre():
    now = utcnow()
    user = current_user if current_user.is_authenticated else None
    status = request.args.get("status")
    if status not in coupons.STATUSES:
        status = None
    mine = coupons.my_coupon_records(user, now=now) if user is not None else []
    records = [record_dict(r, now) for r in mine]
    return render_template(
        "coupons/centre.html",
        available=[coupon_card(c) for c in coupons.claimable_coupons(user, now)],
        records=[r for r in records if status is None or r["status"] == status],
        counts=Counter(r["status"] for r in records),
        total=len(records),
        status=status,
        statuses=coupons.STATUSES,
        login_url=login_url(url_for(".coupon_centre")),
    )


@bp.post("/coupons/<int:coupon_id>/claim")
def claim(coupon_id: int):
    back = url_for(".coupon_centre")
    if not current_user.is_authenticated:
        flash(_("Please log in to claim coupons."), "warning")
        return redirect(login_url(back) or back)
    user, now = current_user._get_current_object(), utcnow()
    try:
        name = unit_of_work.run(
            lambda: coupons.claim_coupon(user, coupon_id, now).coupon.name,
            busy=coupons.busy_claiming,
        )
    except DomainError as exc:
        flash(say(exc.message), "danger")
    else:
        flash(_("Claimed: %(name)s. It is in My coupons.", name=name), "success")
    return redirect(back)
