"""Staff issuing a coupon to chosen users (or every active student): one user after another
through the very code a student's claim goes through (`coupons.hand_out`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Coupon, CouponRecord, User
from app.models.types import utcnow
from app.services.coupons import hand_out, issuable, use_window_over
from app.services.errors import N_, Conflict, NotFound

ISSUE_CHUNK = 500  # usernames looked up per query
SWITCHED_OFF = N_("The coupon is switched off.")
USE_WINDOW_OVER = N_("The coupon's use window is over.")


@dataclass
class IssueResult:
    """What issuing a coupon did, user by user (usernames as stored)."""

    issued: list[str] = field(default_factory=list)
    already_held: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # as typed
    inactive: list[str] = field(default_factory=list)
    sold_out: list[str] = field(default_factory=list)  # left out: the quantity ran out


def _issue_to_listed(usernames: Iterable[str]) -> tuple[list[tuple[int, str]], IssueResult]:
    """The active users named (each once, whatever its case), in the order given."""
    wanted: dict[str, str] = {}
    for name in usernames:
        name = name.strip()
        if name and name.lower() not in wanted:
            wanted[name.lower()] = name
    keys = list(wanted)
    found: dict[str, User] = {}
    for start in range(0, len(keys), ISSUE_CHUNK):
        chunk = keys[start : start + ISSUE_CHUNK]
        found.update(
            (user.username_key, user)
            for user in db.session.scalars(select(User).where(User.username_key.in_(chunk)))
        )
    result, users = IssueResult(), []
    for key, typed in wanted.items():
        user = found.get(key)
        if user is None:
            result.unknown.append(typed)
        elif not user.active:
            result.inactive.append(user.username)
        else:
            users.append((user.id, user.username))
    return users, result


def _every_active_student() -> list[tuple[int, str]]:
    stmt = (
        select(User.id, User.username)
        .where(User.active.is_(True), User.is_staff.is_(False))
        .order_by(User.id)
    )
    return [(user_id, username) for user_id, username in db.session.execute(stmt)]


def issue_coupon(
    coupon_id: int, usernames: Iterable[str] | None, now: datetime | None = None
) -> IssueResult:
    """Give a record of the coupon to each user named in `usernames` (any case, each once), or
    to every active student when it is None, within the coupon's quantity: one user after
    another through the very code a student's claim goes through, so that the quantity and one
    record per user hold against claims and other issuing at the same moment. The claim window
    does not apply (staff may hand out a coupon nobody can claim), but the coupon must be
    active and its fixed use window not over: 404 / 409 `coupon_unavailable` otherwise."""
    now = now or utcnow()
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(N_("No such coupon."))
    if not coupon.active:
        raise Conflict(SWITCHED_OFF, slug="coupon_unavailable")
    if use_window_over(coupon, now):
        raise Conflict(USE_WINDOW_OVER, slug="coupon_unavailable")

    if usernames is None:
        users, result = _every_active_student(), IssueResult()
    else:
        users, result = _issue_to_listed(usernames)
    held = set(
        db.session.scalars(select(CouponRecord.user_id).where(CouponRecord.coupon_id == coupon.id))
    )
    rule = issuable(now)
    for user_id, username in users:
        if user_id in held:
            result.already_held.append(username)
        elif result.sold_out:  # once the quantity has run out, the rest is left out
            result.sold_out.append(username)
        else:
            try:
                hand_out(coupon, user_id, now, rule)
            except Conflict as exc:
                refusals = {
                    "already_claimed": result.already_held,
                    "coupon_sold_out": result.sold_out,
                }
                if exc.slug not in refusals:
                    raise
                refusals[exc.slug].append(username)
            else:
                result.issued.append(username)
    db.session.expire(coupon, ["claimed"])
    return result
