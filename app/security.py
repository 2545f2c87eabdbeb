"""The front door's defences: rate limits, the client's real address, CORS and security headers."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    after_this_request,
    current_app,
    g,
    has_request_context,
    request,
    session,
)
from flask_cors import CORS
from flask_limiter import Limiter, RateLimitExceeded
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer, base64_encode
from werkzeug.http import dump_cookie
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

EXTENSION = "security"
NONCE_KEY = "luffy.csp_nonce"
LIMITER_KEY_PREFIX = "limiter"
API_PATTERN = r"^/api/v1(/.*)?$"
# Paths the limiter never looks at, whatever limits are added later: load balancers poll
# /healthz and must never be refused.
UNLIMITED_ENDPOINTS = frozenset({"main.healthz", "static"})

V = TypeVar("V", bound=Callable[..., Any])


# --- who is asking --------------------------------------------------------------------------


def client_address() -> str:
    """The client's address as a limit key (behind a proxy, ProxyFix has already put the real
    one in `remote_addr`). An IPv6 client is counted by its /64: one household or server gets
    a whole /64 and could otherwise step through fresh addresses at will."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address or 'unknown'}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        network = ipaddress.IPv6Network(f"{ip}/64", strict=False)
        return f"net6:{network.network_address}"
    return f"addr:{ip}"


def submitted_username() -> str:
    """The username a login names (the JSON body's for the API, the form's for the pages),
    lower-cased as usernames are compared; "" when there is none."""
    if request.is_json:
        payload = request.get_json(silent=True)
        value = payload.get("username") if isinstance(payload, dict) else None
    else:
        value = request.form.get("username")
    return value.strip().lower() if isinstance(value, str) else ""


def username_key() -> str:
    # Hashed: the key stays short whatever was typed, and Redis never holds usernames.
    name = submitted_username().encode("utf-8", "surrogatepass")
    return "user:" + hashlib.sha256(name).hexdigest()[:32]


def no_username() -> bool:
    return not submitted_username()


# --- rate limits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One line of CONTRACT.md's rate limits. `scope` names a bucket shared by every view that
    carries the rule, so the API and the pages count together."""

    limits: str
    scope: str
    key: Callable[[], str]
    methods: tuple[str, ...] | None = ("POST",)  # a login page's GET shows the form: free
    exempt_when: Callable[[], bool] | None = None


LOGIN_RULES = (
    Rule("5 per minute;30 per hour", "login", client_address),
    Rule("10 per hour", "login-username", username_key, exempt_when=no_username),
)
REGISTER_RULES = (Rule("5 per hour", "register", client_address),)
CAPTCHA_RULES = (Rule("30 per minute", "captcha", client_address, methods=None),)


def rate_limited(*rules: Rule) -> Callable[[V], V]:
    """A view decorator applying `rules` with the app's own limiter.

    Flask-Limiter's decorators belong to one Limiter, and a Limiter keeps its storage and its
    on/off switch for one app; this decorator is app-neutral: it finds the running app's
    limiter when called, so views may be imported before or after any app is made."""

    def decorator(view: V) -> V:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            state: SecurityState | None = current_app.extensions.get(EXTENSION)
            if state is None or not state.limits_enabled:
                return view(*args, **kwargs)
            return state.limited_view(view, rules)(*args, **kwargs)

        limited.rate_limits = rules  # type: ignore[attr-defined]  (the OpenAPI document's 429)
        return limited  # type: ignore[return-value]

    return decorator


limit_login = rate_limited(*LOGIN_RULES)
limit_register = rate_limited(*REGISTER_RULES)
limit_captcha = rate_limited(*CAPTCHA_RULES)


def limiter_storage_uri(app: Flask) -> str:
    """The app's Redis, or the process's memory when the app itself runs on an in-process
    Redis (limits' storage cannot use fakeredis, and that demo is one process anyway)."""
    if app.config.get("RATELIMIT_STORAGE_URI"):
        return app.config["RATELIMIT_STORAGE_URI"]
    if app.extensions["redis_store"].embedded:
        return "memory://"
    if app.config.get("REDIS_SENTINELS"):  # the master the Sentinels name, as every Redis user
        places = ",".join(app.config["REDIS_SENTINELS"])
        return f"redis+sentinel://{places}/{app.config['REDIS_SENTINEL_MASTER']}"
    return app.config["REDIS_URL"]


def limiter_storage_options(app: Flask) -> dict:
    options = {"key_prefix": LIMITER_KEY_PREFIX, "socket_connect_timeout": 1, "socket_timeout": 1}
    if app.config.get("REDIS_SENTINELS") and not app.config.get("RATELIMIT_STORAGE_URI"):
        import redis

        place = redis.connection.parse_url(app.config["REDIS_URL"])
        options.update({k: place[k] for k in ("db", "password") if place.get(k) is not None})
        options["sentinel_kwargs"] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    return options


def make_limiter(app: Flask) -> Limiter:
    # No default or application limits: only the decorated views are limited.
    # When Redis fails the limiter falls back to counting in this process's memory with the
    # same limits (and retries Redis with a backoff); anything else it raises is logged and
    # swallowed. Either way a login is never a 500 because Redis is down.
    limiter = Limiter(
        key_func=client_address,
        storage_uri=limiter_storage_uri(app),
        storage_options=limiter_storage_options(app),
        strategy="moving-window",  # exact: no double burst across a window's edge
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,  # Retry-After on a refusal only (the 429 handler, errors.py)
    )
    limiter.request_filter(lambda: request.endpoint in UNLIMITED_ENDPOINTS)
    limiter.init_app(app)
    # Only decorated views are limited, and each checks its limits in its own wrapper. The
    # check Flask-Limiter adds before every request looks for default and application limits,
    # of which there are none: it would cost every page and API read for nothing.
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:  # absent when the limiter is switched off
        hooks.remove(limiter._check_request_limit)
    # Likewise its after-request hook, which adds rate-limit headers (switched off above) and
    # makes the deductions of limits with `deduct_when` (a Rule has none), and its teardown,
    # which resets what it kept on the request context, gone with the request anyway.
    after = app.after_request_funcs.get(None, [])
    after[:] = [f for f in after if getattr(f, "func", None) is not _LIMITER_AFTER_REQUEST]
    teardown = app.teardown_request_funcs.get(None, [])
    teardown[:] = [f for f in teardown if f != getattr(limiter, _LIMITER_TEARDOWN, None)]
    return limiter


# Flask-Limiter's per-request hooks (private names: when they change, nothing is removed).
_LIMITER_AFTER_REQUEST = getattr(Limiter, "_Limiter__inject_headers", object())
_LIMITER_TEARDOWN = "_Limiter__release_context"


# --- Content-Security-Policy ----------------------------------------------------------------

CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self' 'nonce-{nonce}'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """This request's script nonce (`<script nonce="{{ csp_nonce() }}">`), fresh per request.

    Refused outside a request: the pre-rendered homepage is one file for everyone and must not
    carry a nonce (it would be wrong, and guessable, for every later visitor)."""
    if not has_request_context():
        raise RuntimeError(
            "csp_nonce() needs a request: a pre-rendered page must not use inline scripts"
        )
    nonce = request.environ.get(NONCE_KEY)
    if nonce is None:
        # In the request's environ, not in `g`: an app context may outlive one request.
        nonce = request.environ[NONCE_KEY] = secrets.token_urlsafe(18)
    return nonce


def override_content_security_policy(
    app: Flask, path_prefix: str, directives: Mapping[str, str]
) -> None:
    """Give the pages under `path_prefix` their own directives, merged over the defaults.

    The hook for pages that cannot live under the students' policy (Flask-Admin's stock
    templates under /admin/ use inline handlers and styles): relax only their paths, e.g.
    `override_content_security_policy(app, "/admin/", {"style-src": "'self' 'unsafe-inline'"})`.
    A value may name the request's nonce as `{nonce}`; the longest matching prefix wins."""
    state: SecurityState = app.extensions[EXTENSION]
    state.csp_overrides[path_prefix] = dict(directives)
    state._policy_pieces.clear()


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


# --- CSRF tokens for visitors without a session ---------------------------------------------
#
# Flask-WTF keeps a form's secret in the session, so a page with a form (a course's buy form)
# would make and store a session in Redis for every visitor who merely looks at it: a write per
# page view, a session per crawler hit, and a page that cannot be kept for the next visitor.
# A visitor who has no session yet gets the secret in a cookie of its own instead (HttpOnly,
# SameSite and Secure like the session's), and the form the same signed token Flask-WTF makes
# of it. When that visitor posts a form with that token, the secret goes into their new
# session just before CSRFProtect looks for it there, so every POST is still checked by
# Flask-WTF as before: another site can neither read the cookie nor, being cross-site, have it
# sent (SameSite), so it cannot make a token that matches. Anyone whose session holds
# something (a signed-in user, a visitor with a cart) gets Flask-WTF's own token, and only an
# empty session is ever seeded: a login, which renews the token, is never followed by a secret
# from before it. (Against an attacker who can plant cookies, a planted secret is worth what
# a planted session id always was.)

VISITOR_CSRF_COOKIE = "visitor_csrf"
_SECRET = re.compile(r"[0-9a-f]{40}")  # secrets.token_hex(20), or Flask-WTF's sha1 hexdigest
_VISITOR_TOKEN_KEY = "luffy.visitor_csrf_token"  # noqa: S105 - an environ key: the token made


def _csrf_field() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def _visitor_secret() -> str | None:
    value = request.cookies.get(VISITOR_CSRF_COOKIE, "")
    return value if _SECRET.fullmatch(value) else None


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key)


@functools.lru_cache(maxsize=8)
def _serializer_for(key: str | bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_CSRF_SALT)  # as Flask-WTF signs


@functools.lru_cache(maxsize=8)
def _signer_for(key: str | bytes) -> TimestampSigner:
    return _serializer_for(key).make_signer(_CSRF_SALT)


_CSRF_SALT = "wtf-csrf-token"


def _signed_token(secret: str) -> str:
    """The token of a form for `secret` (40 hex digits, as Flask-WTF's and ours are): what
    `URLSafeTimedSerializer(key, salt).dumps(secret)` gives, as Flask-WTF makes its tokens, in
    a quarter of the time. The payload of such a string is its JSON text (which zlib never
    makes shorter, so dumps never compresses it), signed by the serializer's own signer, kept
    instead of made again for each token."""
    key = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    return _signer_for(key).sign(base64_encode(f'"{secret}"'.encode())).decode()


def page_csrf_token() -> str:
    """A form's CSRF token (`csrf_token()` in the catalog's pages): Flask-WTF's for a session
    that holds something; for a visitor without a session one that stores nothing, signed the
    same way from a secret in the visitor's own cookie."""
    if session:  # it is stored anyway: Flask-WTF's token, kept in it
        field = _csrf_field()
        secret = session.get(field)
        if not isinstance(secret, str) or not _SECRET.fullmatch(secret) or g.get(field):
            return generate_csrf()
        # What generate_csrf() would give for the secret the session holds (and keeps, as it
        # does, for the rest of the request), signed the quicker way.
        token = _signed_token(secret)
        setattr(g, field, token)
        return token
    token = request.environ.get(_VISITOR_TOKEN_KEY)
    if token is None:
        secret = _visitor_secret()
        if secret is None:
            secret = secrets.token_hex(20)
            after_this_request(functools.partial(_set_visitor_cookie, secret))
        token = request.environ[_VISITOR_TOKEN_KEY] = _signed_token(secret)
    return token


def seed_session_csrf() -> None:
    """Before CSRFProtect checks a form: a visitor without a session who sends a token made of
    the secret in their cookie gets that secret as their new session's, and the cookie goes.
    Anything else (no cookie, no token, another token) is left to CSRFProtect to refuse, and
    stores nothing."""
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE") or session:
        return
    secret = _visitor_secret()
    if secret is None:
        return
    sent = request.form.get(_csrf_field()) or next(
        filter(None, map(request.headers.get, _csrf_headers())), None
    )
    try:
        signed = _serializer().loads(sent) if sent else None
    except BadData:
        return
    if isinstance(signed, str) and hmac.compare_digest(signed, secret):
        session[_csrf_field()] = secret
        after_this_request(_delete_visitor_cookie)


def _csrf_headers() -> list[str]:
    return current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"])


def _set_visitor_cookie(secret: str, response: Response) -> Response:
    # The cookie's text is made once (by werkzeug), only the secret put in for each answer.
    state: SecurityState = current_app.extensions[EXTENSION]
    response.headers.add("Set-Cookie", state.visitor_cookie(current_app).replace(_MARK, secret))
    return response


def _delete_visitor_cookie(response: Response) -> Response:
    state: SecurityState = current_app.extensions[EXTENSION]
    response.delete_cookie(VISITOR_CSRF_COOKIE, **state.visitor_cookie_place(current_app))
    return response


_MARK = "0" * 40  # stands for a secret in the cookie's text


# --- the app's state ------------------------------------------------------------------------


class SecurityState:
    """What `init_app` sets up for one app: its limiter and its header policy."""

    def __init__(self, app: Flask, limiter: Limiter) -> None:
        self.limiter = limiter
        self.limits_enabled = bool(app.config["RATELIMIT_ENABLED"])
        self.hsts = bool(app.config["HSTS_ENABLED"])
        # (name, value) of the headers every response gets as they are.
        self.static_headers = [
            *SECURITY_HEADERS.items(),
            *([("Strict-Transport-Security", HSTS)] if self.hsts else []),
        ]
        for _name, value in self.static_headers:
            _checked(value)
        self.static_names = frozenset(name.lower() for name, _value in self.static_headers)
        self.csp_overrides: dict[str, dict[str, str]] = {}
        # The policy of each path prefix ("" for the rest): without a nonce (None when it
        # cannot do without), then as written, cut where the nonce goes.
        self._policy_pieces: dict[str, tuple[str | None, ...]] = {}
        self.directives = dict(CSP_DIRECTIVES)
        gateway = origin_of(app.config.get("ALIPAY_GATEWAY_URL"))
        if gateway:
            # A checkout form posts to us and is redirected to Alipay's page pay; browsers
            # check that redirect against form-action too.
            self.directives["form-action"] += f" {gateway}"
        self._limited_views: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._visitor_cookie: str | None = None
        self._lock = threading.Lock()

    def limited_view(self, view: Callable[..., Any], rules: tuple[Rule, ...]) -> Callable[..., Any]:
        """`view` wrapped in this app's limiter with `rules` (made once per view and app)."""
        wrapped = self._limited_views.get(view)
        if wrapped is None:
            with self._lock:
                wrapped = self._limited_views.get(view)
                if wrapped is None:
                    wrapped = view
                    for rule in rules:
                        wrapped = self.limiter.shared_limit(
                            rule.limits,
                            scope=rule.scope,
                            key_func=rule.key,
                            methods=list(rule.methods) if rule.methods else None,
                            exempt_when=rule.exempt_when,
                        )(wrapped)
                    self._limited_views[view] = wrapped
        return wrapped

    def visitor_cookie_place(self, app: Flask) -> dict[str, Any]:
        interface = app.session_interface
        return {"domain": interface.get_cookie_domain(app), "path": interface.get_cookie_path(app)}

    def visitor_cookie(self, app: Flask) -> str:
        """The Set-Cookie value of a visitor's CSRF secret, with `_MARK` for the secret: the
        session cookie's attributes, and as long a life as a session."""
        if self._visitor_cookie is None:
            interface = app.session_interface
            self._visitor_cookie = dump_cookie(
                VISITOR_CSRF_COOKIE,
                _MARK,
                max_age=app.permanent_session_lifetime,
                httponly=True,
                secure=interface.get_cookie_secure(app),
                samesite=interface.get_cookie_samesite(app),
                sync_expires=False,  # Max-Age alone: the text stays right for ever
                **self.visitor_cookie_place(app),
            )
        return self._visitor_cookie

    def retry_after(self, exc: RateLimitExceeded) -> int:
        """Seconds until the refused request would be allowed."""
        breached = self.limiter.current_limit
        try:
            if breached is not None:
                reset_at, _remaining = breached.window
                return max(1, math.ceil(reset_at - time.time()))
        except Exception:  # the storage died between the refusal and this question
            log.warning("rate limit storage did not answer for Retry-After", exc_info=True)
        return int(exc.limit.limit.get_expiry())

    def content_security_policy(self) -> str:
        """This response's policy: its path's directives, with this request's nonce when its
        rendering used one, else without any (only the site's own scripts then: what a page
        without inline scripts needs, and an answer that may be kept and given to others)."""
        path = request.path
        prefix = max((p for p in self.csp_overrides if path.startswith(p)), key=len, default="")
        pieces = self._policy_pieces.get(prefix)
        if pieces is None:
            directives = {**self.directives, **self.csp_overrides.get(prefix, {})}
            policy = "; ".join(f"{name} {value}" for name, value in directives.items())
            without = policy.replace(" 'nonce-{nonce}'", "")
            with_nonce = tuple(_checked(policy).split("{nonce}"))
            bare = None if "{nonce}" in without else _checked(without)
            pieces = self._policy_pieces[prefix] = (bare, *with_nonce)
        if pieces[0] is not None and not nonce_was_used():
            return pieces[0]
        return csp_nonce().join(pieces[1:])


def retry_after(exc: RateLimitExceeded) -> int:
    """How many seconds the refused client should wait (the 429's Retry-After)."""
    state: SecurityState = current_app.extensions[EXTENSION]
    return state.retry_after(exc)


def nonce_was_used() -> bool:
    """Whether this request's rendering asked for a CSP nonce (a page meant for everyone must
    not hold one)."""
    return has_request_context() and request.environ.get(NONCE_KEY) is not None


def _checked(value: str) -> str:
    """`value`, once made sure it can be a header's (what werkzeug checks for each header)."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"a header value cannot hold a line break: {value!r}")
    return value


def add_security_headers(response: Response) -> Response:
    state: SecurityState = current_app.extensions[EXTENSION]
    headers = response.headers
    # A view that needs a different value for one answer may set its own: only the missing
    # ones are added (one pass over the few headers present, on every response).
    present = {name.lower() for name, _value in headers}
    added = (
        []
        if "content-security-policy" in present
        else [("Content-Security-Policy", state.content_security_policy())]
    )
    if present.isdisjoint(state.static_names):
        added += state.static_headers
    else:
        added += [(n, v) for n, v in state.static_headers if n.lower() not in present]
    # Every value is ours and was checked once (`_checked`): appended as it is, not checked
    # again one by one for every response (where werkzeug's Headers lets us).
    items = getattr(headers, "_list", None)
    if isinstance(items, list):
        items.extend(added)
    else:
        headers.extend(added)
    return response


def init_cors(app: Flask) -> None:
    """CORS for /api/v1 only, for the configured origins only; none configured, no headers."""
    origins = [origin.rstrip("/") for origin in app.config["CORS_ORIGINS"]]
    if not origins:
        return
    CORS(
        app,
        resources={API_PATTERN: {}},
        origins=origins,
        methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        expose_headers=["Retry-After"],
        supports_credentials=False,  # the API takes tokens, never cookies
        always_send=False,  # no Origin, no CORS headers (and no list of our origins)
        max_age=600,
    )

    @app.after_request
    def vary_on_origin(response: Response) -> Response:
        # An answer with CORS headers differs from one without: shared caches must know.
        if request.path == "/api/v1" or request.path.startswith("/api/v1/"):
            response.vary.add("Origin")
        return response


def init_app(app: Flask) -> None:
    """Set up the limiter, ProxyFix, CORS and the security headers for `app`."""
    hops = int(app.config["PROXY_FIX_X_FOR"])
    if hops > 0:
        # Trust exactly `hops` proxies' X-Forwarded-For / -Proto; a client's own header
        # further to the left is ignored, so it cannot pick its address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    state = SecurityState(app, make_limiter(app))
    app.extensions[EXTENSION] = state
    init_cors(app)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # Before CSRFProtect's own check (registered earlier by csrf.init_app).
    app.before_request_funcs.setdefault(None, []).insert(0, seed_session_csrf)
