"""Growth: what keeps the catalog and the staff pages fast as the shop grows.

products.sort_price (the cheapest active policy's price, kept by app/models/pricing.py)
with the index the price sorts read; products.students (the number of enrollments, kept by
app/models/counters.py) for the popular sort; products.search_text (name and brief as
FULLTEXT tokens, app/models/search.py) with a FULLTEXT index on MariaDB; orders indexed by
created_at (the staff list and export) and by (status, paid_at, actual_amount) (the
dashboard's sales per day, from the index alone).

Revision ID: 0005_growth
Revises: 0004_pending_lines
Create Date: 2026-12-03 09:20:00

"""

import sqlalchemy as sa
from alembic import op

import app.models.types
from app.models.search import search_text

revision = "0005_growth"
down_revision = "0004_pending_lines"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort_price", app.models.types.Money(), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("students", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_products_status_price", ["status", "sort_price", "sort_order", "id"], unique=False
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_status_paid", ["status", "paid_at", "actual_amount"], unique=False
        )

    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE products SET sort_price = (SELECT MIN(p.price) FROM price_policies p"
            " WHERE p.product_id = products.id AND p.active = 1)"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE products SET students = (SELECT COUNT(*) FROM enrollments e"
            " WHERE e.product_id = products.id)"
        )
    )
    rows = bind.execute(sa.text("SELECT id, name, brief FROM products")).all()
    update = sa.text("UPDATE products SET search_text = :text WHERE id = :id")
    for start in range(0, len(rows), 1000):
        bind.execute(
            update,
            [{"id": i, "text": search_text(name, brief)} for i, name, brief in rows[start : start + 1000]],
        )
    bind.execute(sa.text("UPDATE products SET search_text = '' WHERE search_text IS NULL"))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.alter_column("search_text", existing_type=sa.Text(), nullable=False)
        # FULLTEXT on MariaDB; SQLite (`make run`) gets a plain index and searches with LIKE.
        batch_op.create_index("ft_products_search", ["search_text"], mysql_prefix="FULLTEXT")


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_paid")
        batch_op.drop_index("ix_orders_created")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ft_products_search")
        batch_op.drop_index("ix_products_status_price")
        batch_op.drop_column("students")
        batch_op.drop_column("search_text")
        batch_op.drop_column("sort_price")
