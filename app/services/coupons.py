"""The coupon centre: what may be claimed now, claiming (quantity and one per student hold
under concurrency), and a student's own records with their status as of now; staff issuing a
coupon to chosen users through the same code, and what a coupon must be to be saved.

`expired` is never stored: an unused record outside its use window reads as expired, in
Python (`CouponRecord.status_at`) and, for filters, in SQL with the very same rule.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Coupon, CouponKind, CouponRecord, RecordStatus, User
from app.models.types import utcnow
from app.services.catalog import money
from app.services.errors import N_, Conflict, NotFound

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


def _issuable(now: datetime) -> ColumnElement[bool]:
    """Active, not sold out, and its fixed use window not over: what staff may still issue,
    whatever its claim window."""
    return and_(
        Coupon.active.is_(True),
        or_(Coupon.quantity.is_(None), Coupon.claimed < Coupon.quantity),
        or_(Coupon.valid_days.is_not(None), Coupon.valid_until.is_(None), Coupon.valid_until > now),
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Issuable, and inside its claim window: what a student may claim."""
    return and_(_issuable(now), Coupon.claim_start <= now, Coupon.claim_end > now)


def _usable(now: datetime) -> ColumnElement[bool]:
    """`CouponRecord.usable_at(now)` in SQL."""
    return and_(
        CouponRecord.valid_from <= now,
        or_(CouponRecord.valid_until.is_(None), CouponRecord.valid_until > now),
    )


def record_status_is(status: str, now: datetime) -> ColumnElement[bool]:
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
        stmt = stmt.where(record_status_is(status, now))
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


def _hand_out(
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
    record = _hand_out(coupon, user.id, now, _claimable(now))
    db.session.expire(coupon, ["claimed"])
    return record


# --- issuing by staff ---------------------------------------------------------------------------

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
    rule = _issuable(now)
    for user_id, username in users:
        if user_id in held:
            result.already_held.append(username)
        elif result.sold_out:  # once the quantity has run out, the rest is left out
            result.sold_out.append(username)
        else:
            try:
                _hand_out(coupon, user_id, now, rule)
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


# --- what a coupon must be ----------------------------------------------------------------------

ZERO = Decimal("0.00")
VALUE_MAX = Decimal("99999999.99")  # NUMERIC(10,2)
QUANTITY_MAX = 1_000_000_000
VALID_DAYS_MAX = 3650

KIND_UNKNOWN = N_("Choose one of the three kinds.")
REQUIRED = N_("Required.")
NOT_A_NUMBER = N_("Not a number.")
MORE_THAN_ZERO = N_("Must be more than 0.")
NOT_NEGATIVE = N_("Must be 0 or more.")
TOO_LARGE = N_("Too large.")
VALUE_MISSING = N_("A money-off or threshold coupon needs an amount off.")
VALUE_NOT_FOR_PERCENT = N_("A percent coupon has no amount off; leave it empty.")
PERCENT_MISSING = N_("A percent coupon needs the percent paid (80 = pay 80%).")
PERCENT_RANGE = N_("Must be from 1 to 100 (80 = pay 80%).")
PERCENT_NOT_FOR_MONEY = N_("Only a percent coupon has a percent; leave it empty.")
THRESHOLD_MISSING = N_("A threshold coupon needs a minimum spend above 0.")
NO_THRESHOLD_FOR_MONEY_OFF = N_("A money-off coupon has no minimum spend; leave it at 0.")
END_BEFORE_START = N_("Must be after the start.")
ENDS_BEFORE_CLAIMING = N_("The use window ends before claiming starts.")
WINDOW_AND_DAYS = N_("Either fixed use dates or a number of days after claiming, not both.")
VALID_DAYS_RANGE = N_("Must be from 1 to 3650.")  # VALID_DAYS_MAX, spelt out (a fixed msgid)
BELOW_CLAIMED = N_("Less than the number already claimed.")

MESSAGES = (
    KIND_UNKNOWN,
    REQUIRED,
    NOT_A_NUMBER,
    MORE_THAN_ZERO,
    NOT_NEGATIVE,
    TOO_LARGE,
    VALUE_MISSING,
    VALUE_NOT_FOR_PERCENT,
    PERCENT_MISSING,
    PERCENT_RANGE,
    PERCENT_NOT_FOR_MONEY,
    THRESHOLD_MISSING,
    NO_THRESHOLD_FOR_MONEY_OFF,
    END_BEFORE_START,
    ENDS_BEFORE_CLAIMING,
    WINDOW_AND_DAYS,
    VALID_DAYS_RANGE,
    BELOW_CLAIMED,
)


def _amount_problem(amount: Decimal) -> str | None:
    if not amount.is_finite():  # Decimal("NaN") parses, and then refuses to be compared
        return NOT_A_NUMBER
    if amount < 0:
        return NOT_NEGATIVE
    if amount > VALUE_MAX:
        return TOO_LARGE
    return None


def coupon_problems(
    *,
    kind: str | None,
    value: Decimal | None,
    off_percent: int | None,
    minimum_consume: Decimal | None,
    quantity: int | None,
    claim_start: datetime | None,
    claim_end: datetime | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    valid_days: int | None,
    claimed: int = 0,
) -> dict[str, str]:
    """What is wrong with a coupon made of these values, by field (nothing: it may be saved).

    The one statement of what a coupon must be, beyond the database's CHECKs (which it
    implies): the amounts a kind needs and only those, a percent from 1 to 100, no negative
    amounts, windows that end after they start, fixed use dates or days after claiming but not
    both, and never a quantity below what has been claimed already.
    """
    problems: dict[str, str] = {}
    money_kind = kind in (CouponKind.MONEY_OFF, CouponKind.THRESHOLD)
    if kind not in tuple(CouponKind):
        problems["kind"] = KIND_UNKNOWN

    if value is None:
        if money_kind:
            problems["value"] = VALUE_MISSING
    elif kind == CouponKind.PERCENT:
        problems["value"] = VALUE_NOT_FOR_PERCENT
    elif problem := _amount_problem(value):
        problems["value"] = problem
    elif value == 0:
        problems["value"] = MORE_THAN_ZERO

    if off_percent is None:
        if kind == CouponKind.PERCENT:
            problems["off_percent"] = PERCENT_MISSING
    elif money_kind:
        problems["off_percent"] = PERCENT_NOT_FOR_MONEY
    elif not 1 <= off_percent <= 100:
        problems["off_percent"] = PERCENT_RANGE

    minimum = minimum_consume if minimum_consume is not None else ZERO
    if problem := _amount_problem(minimum):
        problems["minimum_consume"] = problem
    elif kind == CouponKind.THRESHOLD and minimum == 0:
        problems["minimum_consume"] = THRESHOLD_MISSING
    elif kind == CouponKind.MONEY_OFF and minimum != 0:
        problems["minimum_consume"] = NO_THRESHOLD_FOR_MONEY_OFF

    if quantity is not None and quantity < 0:
        problems["quantity"] = NOT_NEGATIVE
    elif quantity is not None and quantity > QUANTITY_MAX:
        problems["quantity"] = TOO_LARGE
    elif quantity is not None and quantity < claimed:
        problems["quantity"] = BELOW_CLAIMED

    if claim_start is None:
        problems["claim_start"] = REQUIRED
    if claim_end is None:
        problems["claim_end"] = REQUIRED
    elif claim_start is not None and claim_end <= claim_start:
        problems["claim_end"] = END_BEFORE_START

    if valid_days is not None and not 1 <= valid_days <= VALID_DAYS_MAX:
        problems["valid_days"] = VALID_DAYS_RANGE
    elif valid_days is not None and (valid_from is not None or valid_until is not None):
        problems["valid_days"] = WINDOW_AND_DAYS
    if valid_until is not None and valid_from is not None and valid_until <= valid_from:
        problems["valid_until"] = END_BEFORE_START
    elif valid_until is not None and claim_start is not None and valid_until <= claim_start:
        problems["valid_until"] = ENDS_BEFORE_CLAIMING
    return problems
