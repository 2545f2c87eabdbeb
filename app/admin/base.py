"""What every staff page shares: who may see it, CSRF on every form, and safe defaults."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from flask_wtf import FlaskForm


def is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def refuse_visitor() -> Any:
    """Signed out: the login page, coming back here afterwards. Signed in but not staff: 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


class StaffOnly:
    """Mixed into every admin view: staff users only (checked on every request)."""

    def is_accessible(self) -> bool:
        return is_staff()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse_visitor()


class StaffIndexView(StaffOnly, AdminIndexView):
    """The dashboard: sales of the last 30 days, best sellers, coupon usage, the job queues."""

    @expose("/")
    def index(self) -> str:
        from app.models.types import utcnow
        from app.services import reports

        days = reports.sales_per_day(utcnow())
        chart = {
            "labels": [d.day.isoformat() for d in days],
            "revenue": [str(d.revenue) for d in days],
            "orders": [d.orders for d in days],
        }
        return self.render(
            self._template,
            days=days,
            chart=chart,
            total_revenue=sum((d.revenue for d in days), start=reports.ZERO),
            total_orders=sum(d.orders for d in days),
            best_sellers=reports.best_sellers(),
            coupons=reports.coupon_usage(),
        )


class StaffView(StaffOnly, BaseView):
    pass


class StaffModelView(StaffOnly, ModelView):
    """A model's pages. Forms are Flask-WTF forms, so every one (create, edit, delete, the
    list's actions) carries the CSRF token that the app's CSRFProtect checks on every POST."""

    form_base_class = FlaskForm
    page_size = 20
    can_set_page_size = True
    can_view_details = True
    create_modal = False
    edit_modal = False
    details_modal = False


class ReadOnlyModelView(StaffModelView):
    """Records the store writes itself (orders, payment events): staff read, never edit."""

    can_create = False
    can_edit = False
    can_delete = False
