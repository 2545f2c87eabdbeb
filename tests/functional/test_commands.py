"""`flask --app wsgi create-admin`: a staff user from a prompt or ADMIN_PASSWORD."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.services.accounts import find_user, verify_password
from tests.factories import UserFactory


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


def test_create_admin_takes_the_password_from_the_environment(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss", "--email", "boss@example.com"],
        env={"ADMIN_PASSWORD": "correct-horse"},
    )
    assert result.exit_code == 0, result.output
    assert "Created staff user boss" in result.output
    user = find_user("boss")
    assert user.is_staff
    assert user.active
    assert user.email == "boss@example.com"
    assert verify_password(user, "correct-horse")


def test_create_admin_asks_for_the_password_twice(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss"], input="correct-horse\ncorrect-horse\n", env={}
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    user = find_user("boss")
    assert user.is_staff
    assert verify_password(user, "correct-horse")


def test_create_admin_refuses_a_password_typed_differently_twice(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss"], input="correct-horse\ncorrect-horsf\n", env={}
    )
    assert result.exit_code != 0
    assert user_count() == 0


def test_create_admin_refuses_a_short_password_and_writes_nothing(app, runner):
    result = runner.invoke(args=["create-admin", "boss"], env={"ADMIN_PASSWORD": "short"})
    assert result.exit_code == 1
    assert "password" in result.output
    assert "8–128 characters" in result.output
    assert user_count() == 0


def test_create_admin_refuses_the_username_as_password(app, runner):
    result = runner.invoke(
        args=["create-admin", "bossy-boss"], env={"ADMIN_PASSWORD": "Bossy-Boss"}
    )
    assert result.exit_code == 1
    assert "must not be the username" in result.output
    assert user_count() == 0


def test_create_admin_refuses_a_bad_username(app, runner):
    result = runner.invoke(
        args=["create-admin", "no spaces"], env={"ADMIN_PASSWORD": "long-enough"}
    )
    assert result.exit_code == 1
    assert "username" in result.output
    assert user_count() == 0


def test_create_admin_promotes_an_existing_student(app, runner):
    student = UserFactory(username="alice")
    assert not student.is_staff
    result = runner.invoke(args=["create-admin", "Alice"], env={"ADMIN_PASSWORD": "new-password"})
    assert result.exit_code == 0, result.output
    assert "Updated staff user alice" in result.output
    assert user_count() == 1
    user = find_user("alice")
    assert user.id == student.id
    assert user.is_staff
    assert verify_password(user, "new-password")
    assert not verify_password(user, "password123")  # the factory's
