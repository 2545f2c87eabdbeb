"""Learning: enrollment status, staff access grants, section progress, a section's media and text.

enrollments.status (active / expired / refunded, what the last derivation found);
access_grants (staff give access without an order; counted like a paid line, revocable, the
row is the audit); section_progress (one row per student and section, upserted by the player);
course_sections.media_file / media_type (the lesson file in MEDIA_FOLDER) and content (a
document's sanitised text or an exercise's instructions).

Revision ID: 0003_learning
Revises: 0002
Create Date: 2026-12-03 09:00:04.854971

"""

import sqlalchemy as sa
from alembic import op

import app.models.types


# revision identifiers, used by Alembic.
revision = "0003_learning"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("valid_period", sa.Integer(), nullable=True),
        sa.Column("valid_until", app.models.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", app.models.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(valid_period IS NULL) <> (valid_until IS NULL)",
            name=op.f("ck_access_grants_period_or_end"),
        ),
        sa.CheckConstraint(
            "valid_period IS NULL OR valid_period >= 0",
            name=op.f("ck_access_grants_period_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["users.id"],
            name=op.f("fk_access_grants_granted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_access_grants_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["users.id"],
            name=op.f("fk_access_grants_revoked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_access_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
    )
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_grants_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            "ix_access_grants_user_product", ["user_id", "product_id"], unique=False
        )

    op.create_table(
        "section_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("position_s", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", app.models.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "position_s >= 0", name=op.f("ck_section_progress_position_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["course_sections.id"],
            name=op.f("fk_section_progress_section_id_course_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_section_progress_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section_progress")),
        sa.UniqueConstraint("user_id", "section_id", name="uq_section_progress_user_section"),
    )
    with op.batch_alter_table("section_progress", schema=None) as batch_op:
        batch_op.create_index("ix_section_progress_section", ["section_id"], unique=False)

    with op.batch_alter_table("course_sections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_file", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("media_type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("content", sa.Text(), nullable=True))
    op.execute("UPDATE course_sections SET content = ''")
    with op.batch_alter_table("course_sections", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=False)

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="active")
        )


def downgrade():
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("status")

    with op.batch_alter_table("course_sections", schema=None) as batch_op:
        batch_op.drop_column("content")
        batch_op.drop_column("media_type")
        batch_op.drop_column("media_file")

    with op.batch_alter_table("section_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_section_progress_section")

    op.drop_table("section_progress")
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_access_grants_user_product")
        batch_op.drop_index(batch_op.f("ix_access_grants_product_id"))

    op.drop_table("access_grants")
