"""Fixtures of the staff pages' tests: a signed-in staff client."""

from __future__ import annotations

import pytest

from app.i18n import LANG_COOKIE
from tests.factories import UserFactory
from tests.pages import sign_in


@pytest.fixture
def staff(app):
    return UserFactory(username="boss", is_staff=True)


@pytest.fixture
def staff_client(app, client, staff):
    sign_in(client, staff)
    return client


@pytest.fixture(autouse=True)
def in_english(client):
    """The staff pages' tests read English: messages are translated when they are made (a
    flash at the POST), so the language is chosen for every request, by the switch's cookie."""
    client.set_cookie(LANG_COOKIE, "en")
