"""The worker as staff see it: queue lengths and the failed jobs (out of retries), which staff
run once more or forget (app/services/jobs_status.py reads RQ's registries)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, url_for
from flask_admin import Admin, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from redis.exceptions import RedisError

from app.admin.base import StaffView
from app.i18n import say
from app.services import jobs_status
from app.services.errors import DomainError


class ActionForm(FlaskForm):
    """A button: only its CSRF token."""


class JobsView(StaffView):
    @expose("/")
    def index(self) -> str:
        try:
            counts, failed, problem = jobs_status.queue_counts(), jobs_status.failed_jobs(), None
        except RedisError as exc:  # the page says so rather than failing
            counts, failed, problem = [], [], str(exc)
        return self.render(
            "admin/jobs.html",
            counts=counts,
            failed=failed,
            problem=problem,
            inline=bool(current_app.config.get("RQ_INLINE")),
            form=ActionForm(),
        )

    @expose("/<job_id>/requeue", methods=("POST",))
    def requeue(self, job_id: str) -> Any:
        done = _("The job was put back on its queue.")
        return self._act(jobs_status.requeue_failed, job_id, done)

    @expose("/<job_id>/delete", methods=("POST",))
    def delete(self, job_id: str) -> Any:
        return self._act(jobs_status.delete_failed, job_id, _("The failed job was deleted."))

    def _act(self, change: Any, job_id: str, done: str) -> Any:
        if not ActionForm().validate_on_submit():
            flash(_("The form has expired; please try again."), "danger")
        else:
            try:
                change(job_id)
            except DomainError as exc:
                flash(say(exc.message), "danger")
            else:
                flash(done, "success")
        return redirect(url_for(".index"))


def register(admin: Admin) -> None:
    admin.add_view(JobsView(name=_l("Jobs"), endpoint="admin_jobs", url="jobs"))
