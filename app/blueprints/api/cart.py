"""Cart endpoints: a signed-in student's cart (Redis), ids in, fresh prices out."""

from __future__ import annotations

from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user
from app.schemas.buying import (
    CartLineIn,
    CartLineOut,
    CartOut,
    CartPolicyIn,
    ItemType,
    cart_dict,
    cart_line_dict,
)
from app.services import cart
from app.services.errors import NotFound
from app.services.offers import ITEM_TYPES, LineRef

TAGS = ["cart"]


def _store() -> cart.RedisCart:
    return cart.RedisCart(current_api_user().id)


def _item_type(value: str) -> ItemType:
    if value not in ITEM_TYPES:
        raise NotFound("That item is not in your cart.")
    return value  # type: ignore[return-value]


@api.route("/cart", summary="The cart, with fresh prices", tags=TAGS, response=CartOut, auth=True)
def get_cart():
    return cart_dict(cart.cart_contents(_store(), current_api_user().id))


@api.route(
    "/cart",
    "POST",
    summary="Add an item (adding one already there changes its policy)",
    tags=TAGS,
    body=CartLineIn,
    response=CartLineOut,
    status=201,
    auth=True,
    errors=(404, 409),
)
def add_to_cart(body: CartLineIn):
    return cart_line_dict(cart.add_line(_store(), current_api_user().id, body.ref()))


@api.route(
    "/cart/<item_type>/<int:item_id>",
    "PATCH",
    summary="Change the price policy of a cart line",
    tags=TAGS,
    body=CartPolicyIn,
    response=CartLineOut,
    auth=True,
    errors=(404, 409),
)
def change_cart_policy(item_type: str, item_id: int, body: CartPolicyIn):
    ref = LineRef(_item_type(item_type), item_id, body.price_policy_id)
    return cart_line_dict(cart.change_policy(_store(), current_api_user().id, ref))


@api.route(
    "/cart/<item_type>/<int:item_id>",
    "DELETE",
    summary="Remove a cart line",
    tags=TAGS,
    auth=True,
    errors=(404,),
)
def remove_from_cart(item_type: str, item_id: int):
    cart.remove_line(_store(), _item_type(item_type), item_id)
    return None
