"""The admin's jobs page: queue lengths, failed jobs, run again or forget them."""

from __future__ import annotations

import pytest

from app.extensions import queue
from app.i18n import LANG_COOKIE
from app.services import jobs_status
from tests.factories import UserFactory
from tests.functional.test_jobs_status import explode, work_once
from tests.pages import html, sign_in


@pytest.fixture
def worker_app(app_with, real_redis):
    with app_with(RQ_INLINE=False) as app:
        yield app


@pytest.fixture
def staff_client(worker_app):
    client = worker_app.test_client()
    client.set_cookie(LANG_COOKIE, "en")
    sign_in(client, UserFactory(is_staff=True))
    return client


def failed_job(app):
    job = queue.enqueue(explode, "the mail server is down", retry=None)
    work_once(app)
    return job


def test_staff_see_queues_and_failed_jobs(worker_app, staff_client):
    job = failed_job(worker_app)
    page = html(staff_client.get("/admin/jobs/"))
    assert job.id in page
    assert "the mail server is down" in page
    assert "tests.functional.test_jobs_status.explode" in page


def test_a_failed_job_runs_again_or_is_forgotten(worker_app, staff_client):
    again, forgotten = failed_job(worker_app), failed_job(worker_app)
    response = staff_client.post(f"/admin/jobs/{again.id}/requeue")
    assert response.status_code == 302
    assert [q["queued"] for q in jobs_status.queue_counts() if q["name"] == "default"] == [1]
    staff_client.post(f"/admin/jobs/{forgotten.id}/delete")
    assert {j["id"] for j in jobs_status.failed_jobs()} == set()
    page = html(staff_client.get("/admin/jobs/"))
    assert "No failed job." in page


def test_an_unknown_job_is_a_message_not_an_error(worker_app, staff_client):
    response = staff_client.post("/admin/jobs/no-such-job/requeue")
    assert "No such failed job." in html(staff_client.get(response.location))


def test_inline_mode_says_there_is_no_queue(app, client):
    sign_in(client, UserFactory(is_staff=True))
    assert "Jobs run inline" in html(client.get("/admin/jobs/"))
