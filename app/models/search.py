"""Catalog search text: what the FULLTEXT index on `products.search_text` holds, and the
boolean query a keyword becomes.

`q` matches the name and the brief as a substring, case-insensitively (docs/architecture.md).
A FULLTEXT index only finds words, so the index narrows the rows and a LIKE on the few that
remain keeps that meaning. For the index to hold every row a substring can be in, text is cut
into tokens that a query's own tokens always fall on:

- Chinese, Japanese and Korean characters one by one (a word segmenter such as jieba cuts
  `网络爬虫实战` differently from `爬虫`, so a word index would miss substrings; characters
  cannot);
- runs of other letters and digits as words, found from their start (`pyth` finds Python; a
  piece inside a word, `ytho`, does not: the one place where search is narrower than a
  substring).

Each token is stored as `x` + the hex of its UTF-8 (truncated to 40 bytes), so MariaDB's
minimum token size (3), its stop words (`the`, `with`, `go`...) and its own word rules never
apply, while a prefix of a word stays a prefix of its code. Pure functions, no I/O.
"""

from __future__ import annotations

import re

# Ideographs, kana, hangul and CJK punctuation-free blocks: one token per character.
_CJK = (
    "\u2e80-\u2fff\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
MAX_TOKEN_BYTES = 40  # MariaDB keeps tokens up to 84 characters: "x" + 80 hex digits


def tokens(text: str) -> list[str]:
    """The text's tokens, lower-cased, in order (repeats kept)."""
    return _TOKEN.findall(text.lower())


def _code(token: str) -> str:
    data = token.encode("utf-8")
    if len(data) > MAX_TOKEN_BYTES:
        data = token.encode("utf-8")[:MAX_TOKEN_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return "x" + data.hex()


def _is_cjk(token: str) -> bool:
    return len(token) == 1 and re.match(f"[{_CJK}]", token) is not None


def search_text(*parts: str | None) -> str:
    """What `products.search_text` holds for a product of these texts (name, brief)."""
    seen: dict[str, None] = {}
    for part in parts:
        for token in tokens(part or ""):
            seen.setdefault(_code(token))
    return " ".join(seen)


def boolean_query(q: str) -> str | None:
    """The FULLTEXT boolean-mode query every row containing `q` matches, or None when `q` has
    no letter or digit to look for (then only a scan can answer)."""
    terms: dict[str, None] = {}
    found = tokens(q)
    for index, token in enumerate(found):
        code = _code(token)
        # A character is a whole token; a word may go on in the text, and so may the first
        # and last words of `q` (`on py` is in "Python"): find those from their start.
        whole = _is_cjk(token) or (0 < index < len(found) - 1)
        terms.setdefault(f"+{code}" if whole else f"+{code}*")
    return " ".join(terms) or None
