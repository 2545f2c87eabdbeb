"""Ids as clients send them: ASCII digits only, and never past what a database column holds.

`str.isdigit()` accepts `²` and other digits `int()` refuses, and SQLite raises OverflowError
for an integer past 2**63 - 1: both used to be 500s. Every form id, query id and `<int:>` URL
part goes through here instead.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

# The largest id any of our databases can be asked about (SQLite's and BIGINT's limit).
MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """A positive id from text (surrounding spaces allowed), or None for anything else: empty,
    zero, a sign, non-ASCII digits, or a number no column can hold."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number past MAX_ID matches no route (404), where the
    database would fail on it (Werkzeug's own converter already takes ASCII digits only)."""

    # At most 18 digits (MAX_ID has 19): a longer number fails the rule's pattern, not just
    # the converter, or Werkzeug answers 405 where another method's rule has the same path.
    regex = r"\d{1,18}"

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register(app) -> None:
    """Make `<int:>` the bounded converter; call before any blueprint adds its routes."""
    app.url_map.converters["int"] = IdConverter
