"""`products.students`: the number of enrollments of each product, kept as they are written, so
the catalog's `popular` sort reads a column instead of counting enrollments for every row.

Counted like the sort always counted: every enrollment row of the product, whatever its status.
Raw SQL inserting or deleting enrollments bypasses this and must fix the column itself (the
migration that made it counts them all).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.models.catalog import Product
from app.models.users import Enrollment


@event.listens_for(Session, "after_flush")
def _enrollments_changed(session: Session, flush_context) -> None:
    change: Counter[int] = Counter()
    for obj in session.new:
        if isinstance(obj, Enrollment):
            change[obj.product_id] += 1
    for obj in session.deleted:
        if isinstance(obj, Enrollment):
            change[obj.product_id] -= 1
    connection = None
    for product_id, delta in sorted(change.items()):  # a fixed order: no deadlock between two
        if delta:
            connection = connection or session.connection()
            connection.execute(
                update(Product)
                .where(Product.id == product_id)
                .values(students=Product.students + delta)
            )
