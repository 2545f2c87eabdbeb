"""What the services say: every fixed message is marked with `N_` and translated in the
catalogue, so that pages can show it in Chinese (`app.i18n.say`); the API keeps the English."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.services import accounts, cart, coupon_rules, offers, refunds
from app.services.errors import N_, DomainError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
SERVICES = APP / "services"
PO_PATH = APP / "translations" / "zh" / "LC_MESSAGES" / "messages.po"

# Messages built from values, so no msgid: they stay English on every page. Each is
# (file, the first words of the f-string) and why it stays.
KEPT_ENGLISH = {
    # The challenge endpoint is read by the ALTCHA widget, never shown on a page.
    ("captcha.py", "One of: "),
    # The methods offered depend on the configuration; the settlement page offers only those.
    ("payments/alipay.py", "one of: "),
    # The limits come from the configuration; the editor's upload words are made by slug
    # (app/blueprints/media/routes.py, `refusal_text`), in the staff member's language.
    ("uploads.py", "The image is larger than "),
    ("uploads.py", "The image has more than "),
}


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _marked(path: Path) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "N_"
    ]


def _msgids() -> dict[str, list[str]]:
    """Every message marked with N_ in app/, and where."""
    found: dict[str, list[str]] = {}
    for path in _sources(APP):
        for call in _marked(path):
            [arg] = call.args
            assert isinstance(arg, ast.Constant), f"{path}:{call.lineno}: N_ of a non-literal"
            found.setdefault(arg.value, []).append(f"{path.relative_to(ROOT)}:{call.lineno}")
    return found


MSGIDS = _msgids()


def _catalog():
    with PO_PATH.open("rb") as fh:
        return read_po(fh)


def test_n_gives_the_message_back_unchanged():
    assert N_("Only a pending order can be cancelled.") == "Only a pending order can be cancelled."


def test_the_services_mark_their_messages():
    in_services = {m for m, where in MSGIDS.items() if any("app/services/" in w for w in where)}
    assert len(in_services) > 60
    assert "Only a pending order can be cancelled." in in_services
    assert DomainError.default_message in in_services


def test_every_marked_message_is_translated_in_the_catalogue():
    catalog = _catalog()
    missing = [(m, MSGIDS[m]) for m in MSGIDS if catalog.get(m) is None]
    untranslated = [m for m in MSGIDS if (e := catalog.get(m)) and (not e.string or e.fuzzy)]
    assert missing == [], "run `make translations` and translate the new entries"
    assert untranslated == []


def test_every_error_class_has_a_translated_default_message():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    classes = [DomainError, *subclasses(DomainError)]
    assert refunds.RefundFailed in classes
    assert [c.__name__ for c in classes if c.default_message not in MSGIDS] == []


def _error_names() -> set[str]:
    from app.services import errors

    return {name for name, value in vars(errors).items() if isinstance(value, type)} | {
        "RefundFailed"
    }


def _unmarked_messages(path: Path, makers: set[str]) -> list[tuple[int, str]]:
    """Literal strings and f-strings given as a message or a field's message to an error (or
    to a function of the module that returns one)."""
    tree = _tree(path)
    helpers = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and isinstance(node.returns, ast.Name | ast.Constant)
        and getattr(node.returns, "id", getattr(node.returns, "value", None)) in makers
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in makers | helpers:
            continue
        values = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "message"]
        for keyword in node.keywords:
            if keyword.arg == "fields" and isinstance(keyword.value, ast.Dict):
                values += keyword.value.values
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append((value.lineno, value.value))
            elif isinstance(value, ast.JoinedStr):
                first = value.values[0]
                start = first.value if isinstance(first, ast.Constant) else ""
                found.append((value.lineno, start))
    return found


def test_no_service_raises_an_unmarked_message():
    makers = _error_names()
    unmarked = [
        (str(path.relative_to(SERVICES)), line, text)
        for path in _sources(SERVICES)
        for line, text in _unmarked_messages(path, makers)
    ]
    kept = [(path, text) for path, _, text in unmarked]
    assert sorted(set(kept)) == sorted(KEPT_ENGLISH), unmarked


def test_the_scan_finds_an_unmarked_message(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def _gone() -> Conflict:\n"
        "    return Conflict('All gone.', slug='sold_out')\n"
        "def f(n):\n"
        "    raise _gone()\n"
        "    raise InvalidInput(N_('Marked.'), fields={'n': f'At most {n}.'})\n",
        encoding="utf-8",
    )
    assert _unmarked_messages(sample, {"Conflict", "InvalidInput"}) == [
        (2, "All gone."),
        (5, "At most "),
    ]


@pytest.mark.parametrize(
    ("message", "limit"),
    [
        (accounts.USERNAME_RULE, f"{accounts.USERNAME_MIN}–{accounts.USERNAME_MAX} characters"),
        (accounts.PASSWORD_LENGTH, f"{accounts.PASSWORD_MIN}–{accounts.PASSWORD_MAX} characters"),
        (accounts.EMAIL_TOO_LONG, f"At most {accounts.EMAIL_MAX} characters"),
        (cart.CART_FULL, f"at most {offers.MAX_LINES} items"),
        (offers.TOO_MANY_LINES, f"At most {offers.MAX_LINES} items"),
        (coupon_rules.VALID_DAYS_RANGE, f"from 1 to {coupon_rules.VALID_DAYS_MAX}."),
        (refunds.REASON_LENGTH, f"1 to {refunds.REJECTION_MAX} characters"),
    ],
)
def test_a_fixed_message_states_the_limit_the_code_holds(message, limit):
    assert limit in message
