"""The staff pages under /admin/ (Flask-Admin), one Admin per app.

Only staff see them (signed out: the login page; signed in without the staff flag: 403). Every
form is a Flask-WTF form, so the app's CSRFProtect covers each POST. They live under the
students' strict Content-Security-Policy for scripts: Flask-Admin's stock templates that use
inline event handlers are overridden in app/templates/admin/ by ones whose behaviour comes from
app/static/js/admin.js, and its few inline scripts carry the request's nonce. Only styles are
relaxed, and only under /admin/ (its widgets set style attributes).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

ADMIN_CSP = {"style-src": "'self' 'unsafe-inline'"}
# Flask-Admin's own words (Home, List, Add Filter...) are its `admin` domain. Its Chinese
# catalogue is named zh_Hans_CN, which the store's `zh` locale never finds: a copy lives beside
# ours, as app/translations/zh/LC_MESSAGES/admin.po.
TRANSLATIONS = str(Path(__file__).resolve().parents[1] / "translations")


def admin_endpoint(slug: str) -> str:
    """`courses` -> `admin_courses`: the store's own blueprints already use the plain names."""
    return "admin_" + slug.replace("-", "_")


def init_admin(app: Flask) -> Admin:
    from app.admin import coupons as coupon_pages
    from app.admin import jobs as job_pages
    from app.admin import orders as order_pages
    from app.admin import refunds as refund_pages
    from app.admin import users as user_pages
    from app.admin.base import StaffIndexView
    from app.admin.catalog import (
        CategoryView,
        ChapterView,
        CourseView,
        DegreeCourseView,
        TeacherView,
    )
    from app.extensions import db
    from app.models import CourseCategory, CourseChapter, DegreeCourse, Teacher
    from app.models.catalog import Course
    from app.security import csp_nonce, override_content_security_policy

    admin = Admin(
        app,
        name=_l("Luffy City admin"),
        url="/admin",
        index_view=StaffIndexView(url="/admin", template="admin/dashboard.html"),
        theme=Bootstrap4Theme(base_template="admin/luffy_base.html", fluid=True),
        csp_nonce_generator=csp_nonce,
        translations_path=TRANSLATIONS,
    )
    catalog = _l("Catalog")
    for view, model, name, slug in (
        (CourseView, Course, _l("Courses"), "courses"),
        (ChapterView, CourseChapter, _l("Chapters"), "chapters"),
        (DegreeCourseView, DegreeCourse, _l("Degree courses"), "degree-courses"),
        (CategoryView, CourseCategory, _l("Categories"), "categories"),
        (TeacherView, Teacher, _l("Teachers"), "teachers"),
    ):
        admin.add_view(
            view(model, db, name=name, category=catalog, endpoint=admin_endpoint(slug), url=slug)
        )
    coupon_pages.register(admin)
    order_pages.register(admin)
    refund_pages.register(admin)
    job_pages.register(admin)
    user_pages.register(admin)
    override_content_security_policy(app, "/admin/", ADMIN_CSP)
    return admin
