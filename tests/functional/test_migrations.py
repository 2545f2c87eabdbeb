"""The schema comes from migrations/: they run on empty databases and agree with the models."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db
from app.models import Coupon, PricePolicy
from tests.factories import CourseFactory


def _differences(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, db.metadata)


@pytest.mark.real_commits  # compares through a connection of its own
def test_migrations_match_the_models_on_the_test_database(app):
    # The suite's database was made by `upgrade()` (MariaDB when it answers).
    assert _differences(app) == []


def test_migrations_build_an_empty_sqlite_file_that_matches_the_models(sqlite_app):
    assert _differences(sqlite_app) == []
    assert "price_policies" in inspect(db.engine).get_table_names()


def test_migrations_go_down_and_up_again(sqlite_app):
    downgrade(revision="base")
    assert "products" not in inspect(db.engine).get_table_names()
    upgrade()
    assert _differences(sqlite_app) == []


def test_money_is_exact_on_sqlite(sqlite_app):
    course = CourseFactory(policies=[(30, "1.005"), (60, "12345678.99")])
    db.session.expire_all()
    prices = db.session.scalars(
        select(PricePolicy.price)
        .where(PricePolicy.product_id == course.id)
        .order_by(PricePolicy.valid_period)
    ).all()
    # 1.005 rounds half-up to 1.01 (through float it would become 1.00).
    assert prices == [Decimal("1.01"), Decimal("12345678.99")]
    assert db.session.scalar(select(PricePolicy.price).order_by(PricePolicy.price.desc())) == (
        Decimal("12345678.99")
    )


def test_money_is_exact_on_the_test_database(app):
    course = CourseFactory(policies=[(30, "0.10"), (60, "0.20")])
    from sqlalchemy import func

    total = db.session.scalar(
        select(func.sum(PricePolicy.price)).where(PricePolicy.product_id == course.id)
    )
    assert total == Decimal("0.30")


def test_coupon_percent_outside_1_to_100_is_refused(app):
    import pytest
    from sqlalchemy.exc import IntegrityError, OperationalError

    from tests.factories import CouponFactory

    with pytest.raises((IntegrityError, OperationalError)):
        CouponFactory(kind="percent", value=None, off_percent=101)
    db.session.rollback()
    assert db.session.scalar(select(Coupon.id)) is None
