"""The cart: which items a student means to buy, and the policy chosen for each.

A signed-in student's cart is a Redis hash `cart:{user_id}` (field `{item_type}:{item_id}`,
value the price policy id) with a sliding 30-day expiry; a visitor's lives in the session and
joins the student's cart at login. Only ids are kept: prices are always read fresh.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import redis
from flask import current_app

from app.ids import parse_id
from app.models import Order
from app.services.errors import N_, Conflict, InvalidInput, NotFound
from app.services.offers import (
    ITEM_TYPES,
    MAX_LINES,
    LineRef,
    Offer,
    check_offer,
    forever_owned,
    load_products,
)
from app.unit_of_work import after_commit

CART_FULL = N_("A cart holds at most 50 items.")  # MAX_LINES, spelt out: a msgid is fixed text

log = logging.getLogger(__name__)

CART_LIFETIME = timedelta(days=30)
SESSION_KEY = "cart"


class CartStore(Protocol):
    def lines(self) -> dict[str, int]: ...

    def put(self, key: str, policy_id: int, *, new_allowed: bool) -> bool:
        """Set a line; False (and nothing changed) when a new line is not allowed and the
        line is not there yet."""

    def remove(self, *keys: str) -> int: ...

    def remove_unchanged(self, lines: dict[str, int]) -> int:
        """Remove each line only while it still holds the policy id given (read earlier): a
        line another tab changed meanwhile is left alone."""


class RedisCart:
    """A signed-in student's cart."""

    def __init__(self, user_id: int) -> None:
        self.key = f"cart:{user_id}"
        self.client: redis.Redis = current_app.extensions["redis_store"].client
        self.ttl = int(CART_LIFETIME.total_seconds())

    def lines(self) -> dict[str, int]:
        pipe = self.client.pipeline()
        pipe.hgetall(self.key)
        pipe.expire(self.key, self.ttl)  # sliding: every visit keeps it another 30 days
        raw, _ = pipe.execute()
        return {
            field: number for field, value in raw.items() if (number := parse_id(value)) is not None
        }

    def put(self, key: str, policy_id: int, *, new_allowed: bool) -> bool:
        def attempt(pipe: redis.client.Pipeline) -> bool:
            # WATCH makes "count, then add" one step: two tabs cannot both add the 50th line.
            if not new_allowed and not pipe.hexists(self.key, key):
                return False
            if not pipe.hexists(self.key, key) and pipe.hlen(self.key) >= MAX_LINES:
                return False
            pipe.multi()
            pipe.hset(self.key, key, policy_id)
            pipe.expire(self.key, self.ttl)
            return True

        return self.client.transaction(attempt, self.key, value_from_callable=True)

    def remove(self, *keys: str) -> int:
        return int(self.client.hdel(self.key, *keys)) if keys else 0

    def remove_unchanged(self, lines: dict[str, int]) -> int:
        if not lines:
            return 0
        keys = list(lines)

        def attempt(pipe: redis.client.Pipeline) -> int:
            # WATCH, then read: a change from another tab before EXEC aborts and retries.
            now = pipe.hmget(self.key, keys)
            gone = [
                k
                for k, v in zip(keys, now, strict=True)
                if v is not None and parse_id(v) == lines[k]
            ]
            pipe.multi()
            if gone:
                pipe.hdel(self.key, *gone)
            return len(gone)

        return self.client.transaction(attempt, self.key, value_from_callable=True)


class SessionCart:
    """A visitor's cart, kept in their (server-side) session."""

    def __init__(self, session: MutableMapping[str, Any]) -> None:
        self.session = session

    def lines(self) -> dict[str, int]:
        raw = self.session.get(SESSION_KEY)
        if not isinstance(raw, dict):
            return {}
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}

    def put(self, key: str, policy_id: int, *, new_allowed: bool) -> bool:
        lines = self.lines()
        if key not in lines and (not new_allowed or len(lines) >= MAX_LINES):
            return False
        lines[key] = policy_id
        self.session[SESSION_KEY] = lines
        return True

    def remove(self, *keys: str) -> int:
        lines = self.lines()
        removed = sum(1 for k in keys if lines.pop(k, None) is not None)
        self.session[SESSION_KEY] = lines
        return removed

    def remove_unchanged(self, lines: dict[str, int]) -> int:
        current = self.lines()
        return self.remove(*(k for k, v in lines.items() if current.get(k) == v))


def parse_key(key: str) -> tuple[str, int] | None:
    item_type, _, item_id = key.partition(":")
    number = parse_id(item_id)
    if item_type not in ITEM_TYPES or number is None:
        return None
    return item_type, number


@dataclass(frozen=True)
class CartLine:
    """An offer in the cart; `retired`: its period is no longer sold, and the student is to
    choose one of the product's current periods (the line is left out of the total)."""

    offer: Offer
    retired: bool = False

    @property
    def sort_key(self) -> tuple[str, int]:
        return self.offer.item_type, self.offer.product.id


@dataclass(frozen=True)
class CartContents:
    lines: list[CartLine]
    total: Decimal


def _retired_line(product, ref: LineRef) -> CartLine | None:
    """A line whose period is no longer sold, kept for the student to choose another (None
    when the product has no current period at all: nothing to choose)."""
    policy = next((p for p in product.price_policies if p.id == ref.price_policy_id), None)
    if policy is None or policy.active or not product.current_policies:
        return None
    return CartLine(Offer(product=product, policy=policy), retired=True)


def _checked(user_id: int | None, ref: LineRef) -> Offer:
    products = load_products([ref.item_id])
    owned = forever_owned(user_id, products)
    return check_offer(products.get(ref.item_id), ref, owned)


def add_line(store: CartStore, user_id: int | None, ref: LineRef) -> Offer:
    """Add an item (or, when it is there already, change its policy)."""
    offer = _checked(user_id, ref)
    if not store.put(ref.key, offer.policy.id, new_allowed=True):
        raise Conflict(CART_FULL, slug="cart_full")
    return offer


def change_policy(store: CartStore, user_id: int | None, ref: LineRef) -> Offer:
    if ref.key not in store.lines():
        raise NotFound(N_("That item is not in your cart."))
    offer = _checked(user_id, ref)
    if not store.put(ref.key, offer.policy.id, new_allowed=False):
        raise NotFound(N_("That item is not in your cart."))
    return offer


def remove_line(store: CartStore, item_type: str, item_id: int) -> None:
    if not store.remove(f"{item_type}:{item_id}"):
        raise NotFound(N_("That item is not in your cart."))


def cart_contents(store: CartStore, user_id: int | None) -> CartContents:
    """The cart with fresh prices. A line whose period was retired is kept, marked `retired`
    with the current periods to choose from (and left out of the total). Lines that can no
    longer be bought at all (the course went offline, or is owned for ever now) leave the cart,
    unless another tab changed them since they were read here."""
    lines = store.lines()
    refs = []
    stale: dict[str, int] = {}
    for key, policy_id in lines.items():
        parsed = parse_key(key)
        if parsed is None:
            stale[key] = policy_id
            continue
        refs.append(LineRef(parsed[0], parsed[1], policy_id))
    products = load_products(ref.item_id for ref in refs)
    owned = forever_owned(user_id, products)
    items = []
    for ref in refs:
        product = products.get(ref.item_id)
        try:
            items.append(CartLine(check_offer(product, ref, owned)))
        except Conflict as exc:
            kept = _retired_line(product, ref) if exc.slug == "price_policy_changed" else None
            if kept is not None:
                items.append(kept)
            else:
                stale[ref.key] = ref.price_policy_id
        except (NotFound, InvalidInput):
            stale[ref.key] = ref.price_policy_id
    if stale:
        store.remove_unchanged(stale)
    items.sort(key=lambda line: line.sort_key)
    total = sum((line.offer.policy.price for line in items if not line.retired), Decimal("0.00"))
    return CartContents(items, total)


def merge_visitor_cart(visitor: CartStore, student: CartStore) -> int:
    """At login: the visitor's lines join the student's cart (the visitor's choice of policy
    wins, as the more recent), as far as there is room. Answers how many were merged."""
    merged = 0
    for key, policy_id in visitor.lines().items():
        if parse_key(key) is not None and student.put(key, policy_id, new_allowed=True):
            merged += 1
    visitor.remove(*visitor.lines())
    return merged


def forget_bought(order: Order) -> None:
    """Once the transaction that paid `order` commits (Redis is not part of it), the bought
    items leave the buyer's cart; nothing happens if it rolls back."""
    items = [f"{line.item_type}:{line.product_id}" for line in order.lines]
    after_commit(_remove_bought, order.user_id, order.order_no, items)


def _remove_bought(user_id: int, order_no: str, items: list[str]) -> None:
    """A failure here only leaves a line the next cart read drops anyway."""
    try:
        RedisCart(user_id).remove(*items)
    except redis.RedisError as exc:  # one line: no traceback per request during an outage
        log.warning("could not take order %s's items out of the cart (%s)", order_no, exc)
