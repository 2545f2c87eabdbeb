"""Reading pages in tests: `html(response)` for a page's text, `sign_in(client, user)`."""

from __future__ import annotations


def html(response, status: int = 200) -> str:
    """The page's text, after checking its status and that it is HTML."""
    assert response.status_code == status, response.status
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def sign_in(client, user) -> None:
    """Sign `user` into the test client's session, as a login would (Flask-Login's keys)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
