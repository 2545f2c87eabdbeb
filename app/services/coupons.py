"""The coupon centre: what may be claimed now, claiming (quantity and one per student hold
under concurrency), and a student's own records with their status as of now. Staff issuing
goes through the same code (`coupon_issuing.py`); what a coupon must be to be saved is
`coupon_rules.py`; the shapes the API and pages show are `app/schemas/coupons.py`.

`expired` is never stored: an unused record outside its use window reads as expired, in
Python (`CouponRecord.status_at`) and, for filters, in SQL with the very same rule.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Coupon, CouponRecord, RecordStatus, User
from app.models.types import utcnow
from app.services.errors import N_, Conflict, NotFound

STATUSES = tuple(s.value for s in RecordStatus)
# No 0/O, 1/I/L: a code may be read out or typed in.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
CODE_ATTEMPTS = 5
CODE_CONSTRAINT = "uq_coupon_records_code"  # its name on MariaDB
CODE_COLUMN = "coupon_records.code"  # how SQLite names it


# --- rules as SQL -------------------------------------------------------------------------------


def issuable(now: datetime) -> ColumnElement[bool]:
    """Active, not sold out, and its fixed use window not over: what staff may still issue,
    whatever its claim window."""
    return and_(
        Coupon.active.is_(True),
        or_(Coupon.quantity.is_(None), Coupon.claimed < Coupon.quantity),
        or_(Coupon.valid_days.is_not(None), Coupon.valid_until.is_(None), Coupon.valid_until > now),
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Issuable, and inside its claim window: what a student may claim."""
    return and_(issuable(now), Coupon.claim_start <= now, Coupon.claim_end > now)


def record_status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """`CouponRecord.status_at(now) == status` in SQL."""
    if status == RecordStatus.UNUSED:
        return CouponRecord.usable_at(now)
    if status == RecordStatus.EXPIRED:
        return and_(CouponRecord.status == RecordStatus.UNUSED, not_(CouponRecord.in_window(now)))
    return CouponRecord.status == status


# --- reads --------------------------------------------------------------------------------------


def claimable_coupons(user: User | None = None, now: datetime | None = None) -> list[Coupon]:
    """Coupons that may be claimed now, minus those `user` holds already; one query."""
    now = now or utcnow()
    stmt = (
        select(Coupon)
        .where(_claimable(now))
        .options(joinedload(Coupon.product))
        .order_by(Coupon.id)
    )
    if user is not None:
        held = exists().where(CouponRecord.coupon_id == Coupon.id, CouponRecord.user_id == user.id)
        stmt = stmt.where(~held)
    return list(db.session.scalars(stmt))


def my_coupon_records(
    user: User, status: str | None = None, now: datetime | None = None
) -> list[CouponRecord]:
    """The user's records, all or of one status as of `now`, newest first; one query."""
    now = now or utcnow()
    stmt = (
        select(CouponRecord)
        .where(CouponRecord.user_id == user.id)
        .options(
            joinedload(CouponRecord.coupon).joinedload(Coupon.product),
            joinedload(CouponRecord.order),
        )
        .order_by(CouponRecord.claimed_at.desc(), CouponRecord.id.desc())
    )
    if status is not None:
        stmt = stmt.where(record_status_is(status, now))
    return list(db.session.scalars(stmt))


# --- claiming -----------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _is_code_clash(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    return CODE_CONSTRAINT in message or CODE_COLUMN in message


def holds(user: User, coupon: Coupon) -> bool:
    """Whether `user` has a record of `coupon` already (the unique key is what makes sure)."""
    held = select(CouponRecord.id).where(
        CouponRecord.coupon_id == coupon.id, CouponRecord.user_id == user.id
    )
    return db.session.scalar(held) is not None


def _sold_out() -> Conflict:
    return Conflict(N_("Sorry, this coupon is all gone."), slug="coupon_sold_out")


def _already_claimed() -> Conflict:
    return Conflict(N_("You already hold this coupon."), slug="already_claimed")


def _take_one(coupon: Coupon, rule: ColumnElement[bool]) -> bool:
    """Count one more record of the coupon, if `rule` still lets it be handed out: the
    conditional UPDATE holds the quantity under any concurrency, where reading then writing the
    count would not."""
    taken = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, rule)
        .values(claimed=Coupon.claimed + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def _give_back(coupon: Coupon) -> None:
    """Undo `_take_one` (its row is still locked by this transaction on MariaDB)."""
    db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id)
        .values(claimed=Coupon.claimed - 1)
        .execution_options(synchronize_session=False)
    )


def hand_out(
    coupon: Coupon, user_id: int, now: datetime, rule: ColumnElement[bool]
) -> CouponRecord:
    """Give the user a record of the coupon, counted under `rule`, or refuse with
    `coupon_sold_out` or `already_claimed`: the one way a record comes to be, for a student's
    claim and for staff issuing alike.

    The count is taken by a conditional UPDATE and the record's unique (coupon, user) refuses
    a second record, so both hold under any concurrency. The insert runs in a savepoint; when
    the unique key refuses it, the count is given back: a refusal changes nothing, even for a
    caller that goes on to commit. (Not the UPDATE in the savepoint too: with pysqlite, a
    savepoint opened before any write is the transaction itself, and releasing it commits.)
    """
    if not _take_one(coupon, rule):
        raise _sold_out()
    valid_from, valid_until = coupon.use_window(now)
    for _ in range(CODE_ATTEMPTS):
        record = CouponRecord(
            coupon_id=coupon.id,
            user_id=user_id,
            code=new_code(),
            status=RecordStatus.UNUSED,
            claimed_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        try:
            with db.session.begin_nested():  # a failed insert leaves the transaction usable
                db.session.add(record)
        except IntegrityError as exc:
            if _is_code_clash(exc):
                continue
            _give_back(coupon)
            raise _already_claimed() from None
        return record
    _give_back(coupon)
    raise Conflict(N_("Please try again."), slug="coupon_unavailable")


def remaining(coupon: Coupon) -> int | None:
    """How many may still be handed out; None: unlimited."""
    return None if coupon.quantity is None else max(coupon.quantity - coupon.claimed, 0)


def use_window_over(coupon: Coupon, now: datetime) -> bool:
    """Whether the coupon's fixed use window has ended (a record of it would be born expired)."""
    return not coupon.valid_days and coupon.valid_until is not None and coupon.valid_until <= now


def busy_claiming() -> Conflict:
    """Claiming lost to a lock twice: many students are claiming the same coupon."""
    return Conflict(
        N_("Many students are claiming this coupon right now; please try again."),
        slug="coupon_unavailable",
    )


def claim_coupon(user: User, coupon_id: int, now: datetime | None = None) -> CouponRecord:
    """Give `user` a record of the coupon, or refuse: 404 unknown or withdrawn, 409
    `coupon_unavailable` outside its claim window, `already_claimed`, `coupon_sold_out`.

    A coupon read as sold out is refused at once, with no write and no lock: the committed
    count only grows (a count taken and given back never commits), so it is what the
    conditional UPDATE would answer, without queueing for the coupon's row behind the claims
    holding it. In a flash sale that is most claims (bench/flash_sale.py)."""
    now = now or utcnow()
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None or not coupon.active:
        raise NotFound(N_("No such coupon."))
    if not coupon.claim_start <= now < coupon.claim_end or use_window_over(coupon, now):
        raise Conflict(N_("This coupon cannot be claimed now."), slug="coupon_unavailable")
    if holds(user, coupon):  # the common case, refused before taking one from the count
        raise _already_claimed()
    if coupon.quantity is not None and coupon.claimed >= coupon.quantity:
        raise _sold_out()
    record = hand_out(coupon, user.id, now, _claimable(now))
    db.session.expire(coupon, ["claimed"])
    return record
