"""What MariaDB would do with the SELECTs a block sends: `with planned() as plans: ...`, then
`plans` holds one `Plan` per SELECT, with EXPLAIN's rows (MariaDB only: call it in a test that
asks for the `mariadb` fixture)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event


@dataclass
class Plan:
    statement: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def reads(self, table: str) -> list[dict[str, Any]]:
        """EXPLAIN's rows for `table`."""
        return [row for row in self.rows if row["table"] == table]


@contextlib.contextmanager
def planned() -> Iterator[list[Plan]]:
    from app.extensions import db

    sent: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    plans: list[Plan] = []
    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield plans
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    conn = db.session.connection()  # the test's own: it sees the test's rows
    for statement, parameters in sent:
        result = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
        plans.append(Plan(statement, [dict(row._mapping) for row in result]))
