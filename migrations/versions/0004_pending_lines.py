"""One pending order per student and item; one sandbox trade per order.

order_lines.pending_user_id: the buyer while the line's order is pending, NULL afterwards, unique
with product_id (NULLs never clash), so two pending orders of one student can never hold the same
item. Existing pending orders get it, the newest order first keeping an item it shares with an
older one. sandbox_trades: the sandbox gateway's trades, one per order_no.

Revision ID: 0004_pending_lines
Revises: 0003_learning
Create Date: 2026-12-03 09:20:00

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

# revision identifiers, used by Alembic.
revision = "0004_pending_lines"
down_revision = "0003_learning"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_order_lines_pending_user_id_users"),
            "users",
            ["pending_user_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(
            "uq_order_lines_pending_product", ["pending_user_id", "product_id"]
        )

    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT order_lines.id, orders.user_id, order_lines.product_id FROM order_lines "
            "JOIN orders ON orders.id = order_lines.order_id WHERE orders.status = 'pending' "
            "ORDER BY orders.created_at DESC, orders.id DESC"
        )
    ).all()
    seen = set()
    for line_id, user_id, product_id in rows:
        if (user_id, product_id) in seen:
            continue
        seen.add((user_id, product_id))
        connection.execute(
            sa.text("UPDATE order_lines SET pending_user_id = :user WHERE id = :line"),
            {"user": user_id, "line": line_id},
        )

    op.create_table(
        "sandbox_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=20), nullable=False),
        sa.Column("trade_no", sa.String(length=64), nullable=False),
        sa.Column("total_amount", app.models.types.Money(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_trades")),
        sa.UniqueConstraint("order_no", name=op.f("uq_sandbox_trades_order_no")),
        sa.UniqueConstraint("trade_no", name=op.f("uq_sandbox_trades_trade_no")),
    )


def downgrade():
    op.drop_table("sandbox_trades")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint("uq_order_lines_pending_product", type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_order_lines_pending_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("pending_user_id")
