"""The Chinese catalogue: every entry translated, placeholders kept, and it compiles cleanly."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

FOLDER = Path(__file__).resolve().parents[2] / "app" / "translations"
PO_PATH = FOLDER / "zh" / "LC_MESSAGES" / "messages.po"
MO_PATH = FOLDER / "zh" / "LC_MESSAGES" / "messages.mo"

# What gettext or Python fills in or escapes: `%(name)s`, `%(num)d`, `%s`, `%%`, `{name}`.
# A bare `%` followed by text (`80% (20% off)`) is a percent sign and is not counted.
PLACEHOLDER = re.compile(
    r"%\(\w+\)[-#0 +]?\d*(?:\.\d+)?[diouxXeEfFgGcrs]"
    r"|%%"
    r"|%\d*(?:\.\d+)?[sdifr]"
    r"|\{[\w.\[\]!:]*\}"
)


def _catalog():
    with PO_PATH.open("rb") as fh:
        return read_po(fh)


CATALOG = _catalog()
MESSAGES = [m for m in CATALOG if m.id]


def _ids(message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, list | tuple) else (string,)


def _name(message) -> str:
    return _ids(message)[0]


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


def test_the_placeholder_pattern_tells_placeholders_from_percent_signs():
    assert placeholders("pay %(percent)s%% of %s, {name}") == Counter(
        ["%(percent)s", "%%", "%s", "{name}"]
    )
    assert placeholders("Percent coupons: 80 = pay 80% (20% off).") == Counter()
    assert placeholders("共 %(num)d 门课程") == Counter(["%(num)d"])


def test_the_catalogue_has_messages():
    assert len(MESSAGES) > 400


def test_every_entry_is_translated_and_not_fuzzy():
    untranslated = [_name(m) for m in MESSAGES if not all(_strings(m))]
    fuzzy = [_name(m) for m in MESSAGES if "fuzzy" in m.flags]
    assert untranslated == []
    assert fuzzy == []


def _keeps_placeholders(message) -> bool:
    # Chinese has one plural form: msgstr[0] stands for the singular and the plural alike.
    wanted = [placeholders(msgid) for msgid in _ids(message)]
    return all(placeholders(s) in wanted for s in _strings(message))


def test_every_translation_keeps_the_placeholders():
    broken = [(m.id, m.string) for m in MESSAGES if not _keeps_placeholders(m)]
    assert broken == []


def _keeps_outer_spaces(message) -> bool:
    msgid = _ids(message)[0]
    return all(
        s[:1].isspace() == msgid[:1].isspace() and s[-1:].isspace() == msgid[-1:].isspace()
        for s in _strings(message)
    )


def test_leading_and_trailing_spaces_are_kept():
    assert [_name(m) for m in MESSAGES if not _keeps_outer_spaces(m)] == []


def test_babel_finds_no_error_so_pybabel_compile_succeeds():
    problems = [(m.id, [str(e) for e in errors]) for m, errors in CATALOG.check()]
    assert problems == []


def test_the_mo_file_is_compiled_from_this_po():
    with MO_PATH.open("rb") as fh:
        compiled = read_mo(fh)
    stale = [
        _name(m)
        for m in MESSAGES
        if (c := compiled.get(m.id)) is None or _strings(c) != _strings(m)
    ]
    assert stale == [], "run `.venv/bin/pybabel compile -d app/translations`"
