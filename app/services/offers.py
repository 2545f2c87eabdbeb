"""What may be bought: a product that is online with one of its current price policies.

Cart, settlement and checkout all check their lines here, against the database, in a fixed
number of queries whatever the number of lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload, with_polymorphic

from app.extensions import db
from app.models import (
    Course,
    DegreeCourse,
    Enrollment,
    ItemType,
    PricePolicy,
    Product,
)
from app.services.errors import N_, Conflict, InvalidInput, NotFound

MAX_LINES = 50
TOO_MANY_LINES = N_("At most 50 items.")  # MAX_LINES, spelt out: a msgid is fixed text
ITEM_TYPES = tuple(t.value for t in ItemType)


@dataclass(frozen=True)
class LineRef:
    """A line as a client names it."""

    item_type: str
    item_id: int
    price_policy_id: int

    @property
    def key(self) -> str:
        return f"{self.item_type}:{self.item_id}"


@dataclass(frozen=True)
class Offer:
    """A checked line: the product and the policy chosen for it."""

    product: Product
    policy: PricePolicy

    @property
    def item_type(self) -> str:
        return self.product.item_type

    @property
    def key(self) -> str:
        return f"{self.product.item_type}:{self.product.id}"


def load_products(ids: Iterable[int]) -> dict[int, Product]:
    """Products by id (both kinds, with their policies), in two queries."""
    wanted = set(ids)
    if not wanted:
        return {}
    kinds = with_polymorphic(Product, [Course, DegreeCourse])
    products = db.session.scalars(
        select(kinds).where(kinds.id.in_(wanted)).options(selectinload(kinds.price_policies))
    ).all()
    return {p.id: p for p in products}


def forever_owned(user_id: int | None, product_ids: Iterable[int]) -> set[int]:
    """The products among `product_ids` the user may study for ever already."""
    wanted = set(product_ids)
    if user_id is None or not wanted:
        return set()
    return set(
        db.session.scalars(
            select(Enrollment.product_id).where(
                Enrollment.user_id == user_id,
                Enrollment.product_id.in_(wanted),
                Enrollment.valid_until.is_(None),
            )
        )
    )


def check_offer(product: Product | None, ref: LineRef, owned_forever: set[int]) -> Offer:
    """Refuse a line with the slug the contract names for its problem."""
    if product is None or product.item_type != ref.item_type or not product.is_visible:
        raise NotFound(N_("No such course."))
    policy = next((p for p in product.price_policies if p.id == ref.price_policy_id), None)
    if policy is None:
        raise InvalidInput(
            N_("That price policy does not belong to this item."),
            slug="invalid_price_policy",
            fields={"price_policy_id": N_("Not a price policy of this item.")},
        )
    if not policy.active:
        raise Conflict(
            N_("That price policy is no longer sold; please choose another."),
            slug="price_policy_changed",
        )
    if product.id in owned_forever:
        raise Conflict(N_("You already own this for ever."), slug="already_enrolled")
    return Offer(product=product, policy=policy)


def check_offers(user_id: int | None, refs: Sequence[LineRef]) -> list[Offer]:
    """Check every line; the same item twice is a 400 (one line per item)."""
    if not refs:
        raise InvalidInput(N_("Choose at least one item."), fields={"items": N_("Empty.")})
    if len(refs) > MAX_LINES:
        raise InvalidInput(fields={"items": TOO_MANY_LINES})
    if len({ref.key for ref in refs}) != len(refs):
        raise InvalidInput(
            N_("Each item may appear once."), fields={"items": N_("An item is repeated.")}
        )
    products = load_products(ref.item_id for ref in refs)
    owned = forever_owned(user_id, products)
    return [check_offer(products.get(ref.item_id), ref, owned) for ref in refs]
