"""Where a `next` argument may send the browser: paths on this site only."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site, else `default`: never an open redirect.

    Refused: anything not starting with one "/" (`//host` and `/\\host` are other hosts to a
    browser), any backslash, control characters (browsers drop tabs and newlines, turning
    `/\\t/host` into `//host`), and whatever urlsplit reads a scheme or a host in."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if "\\" in target or any(unicodedata.category(ch) == "Cc" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
