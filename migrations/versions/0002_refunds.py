"""Refunds: staff's answer to a refund request, and stray payments given back.

orders: refund_rejection and refund_rejected_at (what the student sees when staff say no),
refund_handled_by_id (the staff user who approved or rejected), refund_request_no (the
out_request_no of the gateway refund). payment_events: refunded_at, refunded_by_id and
refund_request_no for a payment that could not be applied and was refunded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:13:43.477166

"""

import sqlalchemy as sa
from alembic import op

import app.models.types

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite cannot add a foreign key in place, so the table is copied there;
    # MariaDB gets plain ALTER TABLE statements.
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refund_rejection", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("refund_rejected_at", app.models.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("refund_handled_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("refund_request_no", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_refund_handled_by_id_users"),
            "users",
            ["refund_handled_by_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_at", app.models.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("refunded_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("refund_request_no", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_payment_events_refunded_by_id_users"),
            "users",
            ["refunded_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_payment_events_refunded_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("refund_request_no")
        batch_op.drop_column("refunded_by_id")
        batch_op.drop_column("refunded_at")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_orders_refund_handled_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("refund_request_no")
        batch_op.drop_column("refund_handled_by_id")
        batch_op.drop_column("refund_rejected_at")
        batch_op.drop_column("refund_rejection")
