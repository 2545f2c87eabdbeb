"""The course list at any depth: indexes it reads its count and its page's ids from alone.

Each is (status, item_type, <the sort's keys>): the list filters `products` by status and
item_type (no join with `courses` unless a category or level is asked for), counts from the
index and walks it in the sort's order, so a deep page skips index entries only. The keys of
popular and price_desc descend (MariaDB 10.8+ reads them forward; older servers sort, as
before). The price indexes replace ix_products_status_price (0005), which lacked item_type.

Revision ID: 0006_course_listing
Revises: 0005_growth
Create Date: 2026-12-03 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_course_listing"
down_revision = "0005_growth"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_products_course_sort", ["status", "item_type", "sort_order", "id"], unique=False
        )
        batch_op.create_index(
            "ix_products_course_price",
            ["status", "item_type", "sort_price", "sort_order", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_products_course_price_desc",
            ["status", "item_type", sa.desc(sa.column("sort_price")), "sort_order", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_products_course_popular",
            ["status", "item_type", sa.desc(sa.column("students")), "sort_order", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_products_course_newest", ["status", "item_type", "created_at", "id"], unique=False
        )
        batch_op.drop_index("ix_products_status_price")


def downgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_products_status_price", ["status", "sort_price", "sort_order", "id"], unique=False
        )
        batch_op.drop_index("ix_products_course_newest")
        batch_op.drop_index("ix_products_course_popular")
        batch_op.drop_index("ix_products_course_price_desc")
        batch_op.drop_index("ix_products_course_price")
        batch_op.drop_index("ix_products_course_sort")
