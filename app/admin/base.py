"""What every staff page shares: who may see it, CSRF on every form, and safe defaults."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin import form as admin_form
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.form import BaseForm

from app.models.types import UTC


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
            best_sellers=(best := reports.best_sellers_snapshot(utcnow())).items,
            best_sellers_counted_at=best.counted_at,
            coupons=reports.coupon_usage(),
        )


class StaffView(StaffOnly, BaseView):
    rich_text_editor = False


class StaffForm(FlaskForm):
    """Flask-WTF's form (its CSRF token is what CSRFProtect checks), remembering the record it
    edits as Flask-Admin's own forms do, so that its `Unique` check skips that record."""

    def __init__(self, *args: Any, obj: Any = None, **kwargs: Any) -> None:
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if not valid:
            _plain_errors(self)
        return valid


def _plain_errors(form: BaseForm) -> None:
    """Lazy (translated) messages as plain text: Flask-Admin shows a field's errors only when
    they are `str`, so a lazily translated message would be silently left off the page."""
    for field in form:
        _plain_field_errors(field)


def _plain_field_errors(field: Any) -> None:
    for entry in getattr(field, "entries", None) or ():  # inline lists
        _plain_field_errors(entry)
    inner = getattr(field, "form", None)
    if isinstance(inner, BaseForm):  # inline one-to-one forms
        _plain_errors(inner)
    if isinstance(field.errors, list):
        field.errors[:] = [e if isinstance(e, dict | list) else str(e) for e in field.errors]


class UTCDateTimeField(admin_form.DateTimeField):
    """A time typed and shown in UTC, as the store keeps every time (aware, never naive)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and self.data.tzinfo is None:
            self.data = self.data.replace(tzinfo=UTC)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.astimezone(UTC).strftime(self.format[0]) if self.data else ""


class StoreModelConverter(AdminModelConverter):
    """Flask-Admin's converter, knowing the store's column types (app/models/types.py)."""

    @converts("Money")
    def convert_money(self, field_args: dict[str, Any], **extra: Any) -> DecimalField:
        field_args.setdefault("places", 2)
        return DecimalField(**field_args)

    @converts("UTCDateTime")
    def convert_utc_datetime(self, field_args: dict[str, Any], **extra: Any) -> UTCDateTimeField:
        field_args.setdefault("description", _l("UTC"))
        return UTCDateTimeField(**field_args)


class StaffModelView(StaffOnly, ModelView):
    """A model's pages. Forms are Flask-WTF forms, so every one (create, edit, delete, the
    list's actions) carries the CSRF token that the app's CSRFProtect checks on every POST."""

    form_base_class = StaffForm
    rich_text_editor = False  # True: the page loads the rich-text editor (Quill)
    model_form_converter = StoreModelConverter
    page_size = 20
    can_set_page_size = True
    can_view_details = True
    create_modal = False
    edit_modal = False
    details_modal = False

    def _get_list_extra_args(self) -> Any:
        # Flask-Admin hands `?page=-1` (or a page past any offset) to the database as is: an
        # SQL error, a 500. A page out of range is the first or an empty one instead.
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        return args


MAX_PAGE = 1_000_000


class ReadOnlyModelView(StaffModelView):
    """Records the store writes itself (orders, payment events): staff read, never edit."""

    can_create = False
    can_edit = False
    can_delete = False
