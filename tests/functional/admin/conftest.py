"""Fixtures of the staff pages' tests: a signed-in staff client."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.pages import sign_in


@pytest.fixture
def staff(app):
    return UserFactory(username="boss", is_staff=True)


@pytest.fixture
def staff_client(app, client, staff):
    sign_in(client, staff)
    return client
