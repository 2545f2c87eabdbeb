"""`GET /me`: who is asking and how many lines their cart holds, for a page's header.

The pre-rendered homepage is the same file for everyone, so its header asks this endpoint, from
a static script, whether someone is signed in. Besides a token, this one endpoint also reads
the page session's cookie: it only reads (GET, nothing is changed or stored, a visitor is given
no session), and only for requests the browser marks as made by this site itself
(`Sec-Fetch-Site`), so that no other site's page can learn who its visitor is. The rest of the
API takes a token, or the page session under the same rule plus the page's CSRF token for
anything but a read (`app/blueprints/api/auth.py: session_user`).
"""

from __future__ import annotations

from flask import request, session

from app.blueprints.api import api
from app.blueprints.api.auth import OWN_SITE, current_api_user, session_user
from app.blueprints.api.envelope import ok_response
from app.schemas.auth import MeOut, me_dict
from app.services import cart


def _session_readable() -> bool:
    """The cookie speaks for the visitor only on requests from this site's own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    return site is None or site in OWN_SITE


@api.route(
    "/me",
    summary="Who is signed in (token, or this site's page session) and their cart's size",
    tags=["accounts"],
    response=MeOut,
    security=[{"token": []}, {"session": []}, {}],
    errors=(401,),
)
def who_am_i():
    if request.headers.get("Authorization"):
        user = current_api_user()  # a token that does not check out is a 401
        store: cart.CartStore = cart.RedisCart(user.id)
    elif (user := session_user()) is not None:
        store = cart.RedisCart(user.id)
    else:
        user = None
        store = cart.SessionCart(session if _session_readable() else {})
    response = ok_response(me_dict(user, len(store.lines())))
    # Personal: kept by no cache, and a cache must not answer one visitor with another's.
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.update(("Cookie", "Authorization"))
    return response
