"""The API against its own OpenAPI document (schemathesis): requests made from the document,
valid and invalid, on the demo catalog, signed in. Fails on any 5xx, any status the document
does not list, any answer outside its schema, a valid request refused or an invalid one taken.

Bounded: a few examples per operation (about a minute of CPU for the whole run)."""

from __future__ import annotations

import pytest
import schemathesis
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import conftest

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def fuzz_app(services, _schema, tmp_path_factory):
    from app import create_app
    from app.extensions import db

    app = create_app(conftest.test_config(services, tmp_path_factory.mktemp("fuzz")), env="testing")
    conftest.flush_redis(app)
    with app.app_context():
        conftest.clean_database(app)
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        conftest.clean_database(app)
        db.engine.dispose()
    conftest.flush_redis(app)


@pytest.fixture(scope="module")
def demo_token(fuzz_app) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services.tokens import issue_token

    with fuzz_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "demo"))
        key, _ = issue_token(user)
        db.session.commit()
        db.session.remove()
    return key


@pytest.fixture(scope="module")
def api_schema(fuzz_app, demo_token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    # Logging out would end the token every other request uses.
    return schema.exclude(path="/api/v1/auth/logout")


def refused_by_a_rule_in_words(body) -> bool:
    """Rules the document states in words only (CONTRACT.md), each a 400 naming the field: a
    password that is the username; the same item twice in one order, quote or settlement; an
    address email-validator refuses though it has the form of one."""
    if not isinstance(body, dict):
        return False
    password, username = body.get("password"), body.get("username")
    both = isinstance(password, str) and isinstance(username, str)
    if both and password.lower() == username.lower():
        return True
    email = body.get("email")
    if isinstance(email, str) and email and "@" in email:
        # Well-formed, yet refused by email-validator (a reserved domain such as .test).
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            return True
    items = body.get("items")
    if isinstance(items, list):
        refs = [
            (item.get("item_type"), _as_id(item.get("item_id")))
            for item in items
            if isinstance(item, dict)
        ]
        if len(refs) != len(set(map(repr, refs))):
            return True
    return False


def _as_id(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def depends_on_the_cart(case) -> bool:
    """A settlement made from the cart is refused (400 `from_cart`) while the cart is empty,
    which the fuzzing itself changes: a valid request that may fairly be refused."""
    body = case.body if isinstance(case.body, dict) else {}
    return case.operation.path == "/api/v1/settlement" and body.get("from_cart") is True


def names_a_price_policy(case) -> bool:
    """A body naming an item and a price policy by id is refused (400 `invalid_price_policy`)
    when both exist but the policy is another item's: the document cannot say which policy
    belongs to which item, and which ids exist depends on the data, not on the request."""
    items = case.body.get("items") if isinstance(case.body, dict) else None
    lines = items if isinstance(items, list) else [case.body]
    return any(isinstance(line, dict) and "price_policy_id" in line for line in lines)


def test_the_api_answers_as_its_document_says(api_schema, demo_token):
    # Every operation in one test: schemathesis' pytest plugin (from_fixture) does not run on
    # pytest 9. Each operation gets its own Hypothesis run; every failure is reported.
    headers = {"Authorization": f"Token {demo_token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def answers_as_documented(case):
            assume(not refused_by_a_rule_in_words(case.body))
            excluded = (
                [positive_data_acceptance]
                if depends_on_the_cart(case) or names_a_price_policy(case)
                else []
            )
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        try:
            answers_as_documented()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
