"""Rich text that staff write (a course's "what you will learn"), sanitised before it is stored.

`sanitize(html)` keeps what the admin's Quill editor produces (app/static/js/admin-richtext.js:
paragraphs, h2-h4, bold, italic, underline, strike, inline code and code blocks, lists, quotes,
links and images) and drops everything else: scripts and styles with their content, frames and
plugins, event handlers, `style` and `class` attributes, and any URL that is not http(s),
mailto or relative. Images may only come from our own uploads (`/uploads/<stored name>`, see
app/services/uploads.py): the pages' Content-Security-Policy loads images from the store only,
so another site's image would show as broken. Links get rel="noopener noreferrer nofollow".

The models sanitise on every write (app/models/catalog.py), so pages render stored rich text
as markup. Sanitising is idempotent: sanitising stored text again changes nothing. It depends
on nothing of the app: it sits below the models, which use it, and the forms and services.
"""

from __future__ import annotations

import re

import nh3

# The largest rich text a column holds: MariaDB's TEXT is 65,535 bytes.
MAX_BYTES = 65_535

TAGS = frozenset(
    {
        "p",
        "br",
        "h2",
        "h3",
        "h4",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "img",
    }
)
# Removed together with what they hold (other unknown tags are dropped, their text kept).
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "noscript",
        "noembed",
        "template",
        "svg",
        "math",
        "textarea",
        "select",
        "title",
        "head",
    }
)
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# An image we stored ourselves: what app/blueprints/media serves (names from uploads.py).
OWN_IMAGE = re.compile(r"/uploads/[A-Za-z0-9_-]{1,64}\.(?:jpg|png|webp)")
# http(s) or mailto, or a relative URL (no scheme before the first '/', '?' or '#').
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _link_allowed(url: str) -> bool:
    match = _SCHEME.match(url.strip())
    return match is None or match.group(1).lower() in LINK_SCHEMES


def _image_allowed(url: str) -> bool:
    return OWN_IMAGE.fullmatch(url.strip()) is not None


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # nh3 already refuses schemes outside LINK_SCHEMES; this narrows images further and keeps
    # the rule readable in one place.
    if tag == "a" and attribute == "href":
        return value if _link_allowed(value) else None
    if tag == "img" and attribute == "src":
        return value if _image_allowed(value) else None
    return value


_cleaner = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    # "*": nothing on every tag (nh3 would otherwise allow `lang` and `title` everywhere).
    attributes={"*": set()} | {tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_filter_attribute,
    url_schemes=set(LINK_SCHEMES),
    link_rel=LINK_REL,
    strip_comments=True,
)
_text_only = nh3.Cleaner(tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
_TAG = re.compile(r"<[^>]*>")
# Dropping a tag can leave markup that parses into another tree the next time (an <li> inside
# an <li>): cleaning again until nothing changes makes sanitising idempotent. Real text settles
# in one or two passes; what does not settle by then keeps only its text.
_PASSES = 4


def sanitize(html: str | None) -> str:
    """`html` with only the allowed tags, attributes and URLs; "" when nothing visible is left
    (an editor's empty `<p><br></p>`), so pages can test the text for emptiness."""
    if not html:
        return ""
    clean = _cleaner.clean(html).strip()
    for _ in range(_PASSES):
        again = _cleaner.clean(clean).strip()
        if again == clean:
            break
        clean = again
    else:
        clean = _text_only.clean(clean).strip()
    if "<img" not in clean and not _TAG.sub("", clean).replace("&nbsp;", "").strip():
        return ""
    return clean


def too_long(html: str) -> bool:
    """Whether sanitised `html` is more than a rich-text column holds."""
    return len(html.encode("utf-8")) > MAX_BYTES
