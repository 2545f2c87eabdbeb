"""The coupon centre: what may be claimed now, claiming (quantity and one per student hold
under concurrency), and a student's own records with their status as of now.

`expired` is never stored: an unused record outside its use window reads as expired, in
Python (`CouponRecord.status_at`) and, for filters, in SQL with the very same rule.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Coupon, CouponRecord, RecordStatus, User
from app.models.types import utcnow
from app.services.catalog import money
from app.services.errors import Conflict, NotFound

STATUSES = tuple(s.value for s in RecordStatus)
# No 0/O, 1/I/L: a code may be read out or typed in.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
CODE_ATTEMPTS = 5
CODE_CONSTRAINT = "uq_coupon_records_code"  # its name on MariaDB
CODE_COLUMN = "coupon_records.code"  # how SQLite names it


# --- shapes -----------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def coupon_dict(coupon: Coupon) -> dict[str, Any]:
    product = coupon.product
    return {
        "id": coupon.id,
        "name": coupon.name,
        "kind": coupon.kind,
        "value": None if coupon.value is None else money(coupon.value),
        "off_percent": coupon.off_percent,
        "minimum_consume": money(coupon.minimum_consume),
        "product": None
        if product is None
        else {"item_type": product.item_type, "item_id": product.id, "name": product.name},
    }


def record_dict(record: CouponRecord, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "code": record.code,
        "status": str(record.status_at(now or utcnow())),
        "coupon": coupon_dict(record.coupon),
        "valid_from": iso(record.valid_from),
        "valid_until": iso(record.valid_until),
        "order_no": record.order.order_no if record.order is not None else None,
    }


def remaining(coupon: Coupon) -> int | None:
    return None if coupon.quantity is None else max(coupon.quantity - coupon.claimed, 0)


def coupon_card(coupon: Coupon) -> dict[str, Any]:
    """What the coupon centre page shows of a claimable coupon: the API's shape and more."""
    return {
        **coupon_dict(coupon),
        "remaining": remaining(coupon),
        "brief": coupon.brief,
        "valid_days": coupon.valid_days,
        "use_from": iso(coupon.valid_from),
        "use_until": iso(coupon.valid_until),
        "claim_end": iso(coupon.claim_end),
    }


# --- rules as SQL -------------------------------------------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Active, inside its claim window, not sold out, and its fixed use window not over."""
    return and_(
        Coupon.active.is_(True),
        Coupon.claim_start <= now,
        Coupon.claim_end > now,
        or_(Coupon.quantity.is_(None), Coupon.claimed < Coupon.quantity),
        or_(Coupon.valid_days.is_not(None), Coupon.valid_until.is_(None), Coupon.valid_until > now),
    )


def _usable(now: datetime) -> ColumnElement[bool]:
    """`CouponRecord.usable_at(now)` in SQL."""
    return and_(
        CouponRecord.valid_from <= now,
        or_(CouponRecord.valid_until.is_(None), CouponRecord.valid_until > now),
    )


def _status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """`CouponRecord.status_at(now) == status` in SQL."""
    if status == RecordStatus.UNUSED:
        return and_(CouponRecord.status == RecordStatus.UNUSED, _usable(now))
    if status == RecordStatus.EXPIRED:
        return and_(CouponRecord.status == RecordStatus.UNUSED, not_(_usable(now)))
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


def available_coupons(user: User | None = None, now: datetime | None = None) -> list[dict]:
    """What `GET /coupons/available` answers: each coupon with what is `remaining` of it."""
    return [{**coupon_dict(c), "remaining": remaining(c)} for c in claimable_coupons(user, now)]


def coupon_cards(user: User | None = None, now: datetime | None = None) -> list[dict]:
    """What the coupon centre page shows: the same coupons, with their brief and use window."""
    return [coupon_card(c) for c in claimable_coupons(user, now)]


def my_coupon_records(
    user: User, status: str | None = None, now: datetime | None = None
) -> list[dict]:
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
        stmt = stmt.where(_status_is(status, now))
    return [record_dict(r, now) for r in db.session.scalars(stmt)]


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
    return Conflict("Sorry, this coupon is all gone.", slug="coupon_sold_out")


def _already_claimed() -> Conflict:
    return Conflict("You already hold this coupon.", slug="already_claimed")


def _take_one(coupon: Coupon, now: datetime) -> bool:
    """Count one more claim, if the coupon may still be claimed: the conditional UPDATE holds
    the quantity under any concurrency, where reading then writing the count would not."""
    taken = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, _claimable(now))
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


def claim_coupon(user: User, coupon_id: int, now: datetime | None = None) -> CouponRecord:
    """Give `user` a record of the coupon, or refuse: 404 unknown or withdrawn, 409
    `coupon_unavailable` outside its claim window, `already_claimed`, `coupon_sold_out`.

    The count is taken by a conditional UPDATE and the record's unique (coupon, user) refuses
    a second claim, so both hold under any concurrency. The insert runs in a savepoint; when
    the unique key refuses it, the count is given back: a refusal changes nothing, even for a
    caller that goes on to commit. (Not the UPDATE in the savepoint too: with pysqlite, a
    savepoint opened before any write is the transaction itself, and releasing it commits.)
    """
    now = now or utcnow()
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None or not coupon.active:
        raise NotFound("No such coupon.")
    if not coupon.claim_start <= now < coupon.claim_end or (
        not coupon.valid_days and coupon.valid_until is not None and coupon.valid_until <= now
    ):
        raise Conflict("This coupon cannot be claimed now.", slug="coupon_unavailable")
    if holds(user, coupon):  # the common case, refused before taking one from the count
        raise _already_claimed()

    if not _take_one(coupon, now):
        raise _sold_out()
    valid_from, valid_until = coupon.use_window(now)
    for _ in range(CODE_ATTEMPTS):
        record = CouponRecord(
            coupon_id=coupon.id,
            user_id=user.id,
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
        db.session.expire(coupon, ["claimed"])
        return record
    _give_back(coupon)
    raise Conflict("Please try again.", slug="coupon_unavailable")
