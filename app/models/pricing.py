"""Price policies: how long a product may be studied, for how much."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    UniqueConstraint,
    event,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.extensions import db
from app.models.types import Money


class PricePolicy(db.Model):
    """One period of one product. A period no longer sold is retired (`active` false), never
    deleted: order lines keep pointing at it."""

    __tablename__ = "price_policies"
    __table_args__ = (
        UniqueConstraint("product_id", "valid_period", name="uq_price_policies_product_period"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("valid_period >= 0", name="period_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    valid_period: Mapped[int] = mapped_column(Integer)  # days; 0 = forever
    price: Mapped[Decimal] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    product: Mapped[Product] = relationship(back_populates="price_policies")  # noqa: F821

    @property
    def is_forever(self) -> bool:
        return self.valid_period == 0

    def __str__(self) -> str:
        return f"{self.valid_period}d ¥{self.price}"


def refresh_sort_prices(connection, product_ids) -> None:
    """Set `products.sort_price` of these products to their cheapest active policy's price (NULL
    when they have none). The one place the column is written; raw SQL writing policies must
    call it too (as the migration that made it does)."""
    from app.models.catalog import Product

    ids = sorted(set(product_ids))
    if not ids:
        return
    cheapest = (
        select(func.min(PricePolicy.price))
        .where(PricePolicy.product_id == Product.id, PricePolicy.active.is_(True))
        .correlate(Product)
        .scalar_subquery()
    )
    connection.execute(update(Product).where(Product.id.in_(ids)).values(sort_price=cheapest))


@event.listens_for(Session, "after_flush")
def _policies_changed(session: Session, flush_context) -> None:
    changed = [
        obj
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, PricePolicy)
    ]
    if changed:
        # The old product too, should a policy have moved (it never does through the store).
        ids = {p.product_id for p in changed if p.product_id is not None}
        refresh_sort_prices(session.connection(), ids)
