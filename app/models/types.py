"""Column types that keep money exact and times timezone-aware on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_money(value: Any) -> Decimal:
    """A Decimal rounded half-up to the cent; refuses floats, which are never exact money."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class Money(TypeDecorator):
    """`Numeric(10,2)` holding `Decimal`. SQLite's NUMERIC goes through float (1.005 would come
    back 1.00), so there it is stored as a whole number of cents, which keeps it exact and
    keeps ORDER BY and SUM working."""

    impl = Numeric(10, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(10, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        money = to_money(value)
        if dialect.name == "sqlite":
            return int(money * 100)
        return money

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return to_money(value)

    @property
    def python_type(self) -> type:
        return Decimal


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (neither SQLite nor MariaDB keeps an offset), read back aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))  # keep microseconds
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite aggregates can hand back text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)

    @property
    def python_type(self) -> type:
        return datetime
