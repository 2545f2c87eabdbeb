"""Staff manage users: search, filters, the email and the staff and active flags (never the
username or the password hash), password resets that end the user's sessions and tokens, and
no way to lock themselves out."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import User
from app.services.accounts import verify_password
from tests.factories import UserFactory
from tests.pages import html, sign_in

NEW_PASSWORD = "fresh-passw0rd"


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def reloaded(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def signed_in_browser(app, user: User):
    """Another browser where `user` signed in with their password."""
    browser = app.test_client()
    response = browser.post("/login", data={"username": user.username, "password": "password123"})
    assert response.status_code == 302
    assert browser.get("/account").status_code == 200
    return browser


def edit(staff_client, user: User, **fields):
    data = {"email": user.email, "is_staff": "y" if user.is_staff else None}
    data["active"] = "y" if user.active else None
    data.update(fields)
    return staff_client.post(
        f"/admin/users/edit/?id={user.id}",
        data={key: value for key, value in data.items() if value is not None},
    )


def test_users_are_listed_searched_and_filtered(staff_client, staff):
    UserFactory(username="anna", email="anna@school.example")
    UserFactory(username="boris", email="b@elsewhere.example", active=False)
    UserFactory(username="chen", email="chen@school.example", is_staff=True)

    def shown(query: str) -> list[str]:
        page = html(staff_client.get(f"/admin/users/?{query}"))
        return [
            name
            for name in ("anna", "boris", "chen")
            if f">{name}<" in page.replace("\n", "").replace(" ", "")
        ]

    assert shown("") == ["anna", "boris", "chen"]
    assert shown("search=school.example") == ["anna", "chen"]
    assert shown("search=bor") == ["boris"]
    assert shown("flt0_0=1") == ["chen"]  # staff
    assert shown("flt0_1=0") == ["boris"]  # not active


def test_the_password_hash_is_never_shown(staff_client, staff):
    user = UserFactory()
    for path in (
        "/admin/users/",
        f"/admin/users/details/?id={user.id}",
        f"/admin/users/edit/?id={user.id}",
        f"/admin/users/password/?id={user.id}",
    ):
        page = html(staff_client.get(path))
        assert user.password_hash not in page
        assert "argon2" not in page
        assert "password_hash" not in page
        assert "session_generation" not in page


def test_staff_change_the_email_and_flags(staff_client):
    user = UserFactory(username="dora", email="old@example.com")
    response = edit(staff_client, user, email=" New@Example.com ", is_staff="y")
    assert response.status_code == 302, response.get_data(as_text=True)
    user = reloaded(user)
    assert user.email == "New@example.com"  # normalised, as registration keeps it
    assert user.is_staff is True
    assert user.username == "dora"


def test_the_username_and_password_cannot_be_changed_by_the_form(staff_client):
    user = UserFactory(username="emil")
    before = user.password_hash
    edit(staff_client, user, username="hacked", password_hash="x", session_generation="9")
    user = reloaded(user)
    assert (user.username, user.password_hash, user.session_generation) == ("emil", before, 0)
    page = html(staff_client.get(f"/admin/users/edit/?id={user.id}"))
    assert 'name="username"' not in page


def test_a_bad_email_gets_a_field_message(staff_client):
    user = UserFactory(email="ok@example.com")
    page = html(edit(staff_client, user, email="not an email"))
    assert "Not a valid email address." in page
    assert reloaded(user).email == "ok@example.com"


def test_deactivating_a_user_ends_their_sessions_and_tokens(app, staff_client, token_for):
    user = UserFactory(username="fay")
    browser = signed_in_browser(app, user)
    headers = token_for(user)
    assert browser.get("/api/v1/cart", headers=headers).status_code == 200

    assert edit(staff_client, user, active=None).status_code == 302
    assert reloaded(user).active is False
    assert browser.get("/account").status_code == 302

    # Switched on again, the old session and token stay ended.
    assert edit(staff_client, reloaded(user), active="y").status_code == 302
    assert reloaded(user).active is True
    assert browser.get("/account").status_code == 302
    assert app.test_client().get("/api/v1/cart", headers=headers).status_code == 401


def test_other_edits_leave_sessions_alone(app, staff_client):
    user = UserFactory(username="gus")
    browser = signed_in_browser(app, user)
    assert edit(staff_client, user, email="gus@new.example").status_code == 302
    assert browser.get("/account").status_code == 200


def test_staff_cannot_take_away_their_own_staff_flag(staff_client, staff):
    page = html(edit(staff_client, staff, is_staff=None))
    assert "You cannot take away your own staff flag." in page
    assert reloaded(staff).is_staff is True


def test_staff_cannot_deactivate_themselves(staff_client, staff):
    page = html(edit(staff_client, staff, active=None))
    assert "You cannot deactivate yourself." in page
    assert reloaded(staff).active is True
    assert staff_client.get("/admin/").status_code == 200


def test_staff_may_demote_another_staff_member(staff_client):
    other = UserFactory(is_staff=True)
    assert edit(staff_client, other, is_staff=None).status_code == 302
    assert reloaded(other).is_staff is False


def test_users_cannot_be_created_or_deleted_here(staff_client):
    user = UserFactory()
    assert staff_client.get("/admin/users/new/").status_code == 302
    staff_client.post("/admin/users/delete/", data={"id": str(user.id)})
    assert reloaded(user) is not None


# --- password reset -----------------------------------------------------------------------------


def reset(staff_client, user: User, password: str = NEW_PASSWORD, confirm: str | None = None):
    return staff_client.post(
        f"/admin/users/password/?id={user.id}",
        data={"new_password": password, "confirm": password if confirm is None else confirm},
        follow_redirects=True,
    )


def test_the_reset_page_is_linked_from_the_list_and_the_details(staff_client):
    user = UserFactory()
    link = f"/admin/users/password/?id={user.id}"
    assert link in html(staff_client.get("/admin/users/"))
    assert link in html(staff_client.get(f"/admin/users/details/?id={user.id}"))


def test_a_password_reset_works_and_ends_the_users_sessions_and_tokens(
    app, staff_client, token_for
):
    user = UserFactory(username="hana")
    browser = signed_in_browser(app, user)
    headers = token_for(user)

    page = html(reset(staff_client, user))
    assert "hana has a new password" in page

    assert browser.get("/account").status_code == 302  # the old session cookie stops working
    assert app.test_client().get("/api/v1/cart", headers=headers).status_code == 401
    user = reloaded(user)
    assert verify_password(user, NEW_PASSWORD)
    assert not verify_password(user, "password123")
    fresh = app.test_client()
    login = fresh.post("/login", data={"username": "hana", "password": NEW_PASSWORD})
    assert login.status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", None, "8–128 characters."),
        ("x" * 129, None, "8–128 characters."),
        ("ivan-the-user", None, "The password must not be the username."),
        (NEW_PASSWORD, "something-else", "The passwords do not match."),
        ("", None, "Please choose a password."),
    ],
)
def test_a_weak_or_mistyped_password_is_refused(staff_client, password, confirm, message):
    user = UserFactory(username="ivan-the-user")
    before = user.password_hash
    page = html(reset(staff_client, user, password, confirm))
    assert message in page
    user = reloaded(user)
    assert (user.password_hash, user.session_generation) == (before, 0)


def test_staff_resetting_their_own_password_stay_signed_in(staff_client, staff):
    reset(staff_client, staff)
    assert staff_client.get("/admin/").status_code == 200
    assert verify_password(reloaded(staff), NEW_PASSWORD)


def test_resetting_an_unknown_user_goes_back_to_the_list(staff_client):
    assert staff_client.get("/admin/users/password/?id=999999").status_code == 302
    assert staff_client.post("/admin/users/password/?id=x", data={}).status_code == 302


def test_user_pages_have_no_inline_event_handlers(staff_client):
    user = UserFactory()
    for path in (
        "/admin/users/",
        f"/admin/users/details/?id={user.id}",
        f"/admin/users/edit/?id={user.id}",
        f"/admin/users/password/?id={user.id}",
    ):
        assert not re.search(r"\son[a-z]+=", html(staff_client.get(path))), path


@pytest.mark.parametrize(
    "path", ["/admin/users/", "/admin/users/edit/?id={id}", "/admin/users/password/?id={id}"]
)
def test_a_student_is_refused_every_user_page(app, client, path):
    student = UserFactory()
    sign_in(client, student)
    assert client.get(path.format(id=student.id)).status_code == 403


def test_a_student_cannot_reset_anyones_password(app, client):
    student, victim = UserFactory(), UserFactory()
    sign_in(client, student)
    response = client.post(
        f"/admin/users/password/?id={victim.id}",
        data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 403
    assert reloaded(victim).password_hash == victim.password_hash
