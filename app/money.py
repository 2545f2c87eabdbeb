"""Money as text, written once: the contract's amount string for JSON and CSV (`"1048.19"`)
and the label pages show (`¥1,048.19`, the `money` template filter). Amounts are `Decimal`s
already rounded half-up to the cent by the `Money` column type (app/models/types.py)."""

from __future__ import annotations

from decimal import Decimal


def amount_text(value: Decimal) -> str:
    """`Decimal("1048.1")` -> `"1048.10"`: what the API and exports carry."""
    return f"{value:.2f}"


def money_label(value: Decimal | str | None) -> str:
    """`Decimal("1048.19")` -> `"¥1,048.19"`; nothing for no amount."""
    if value is None:
        return ""
    return f"¥{Decimal(value):,.2f}"
