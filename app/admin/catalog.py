"""The catalog's staff pages: categories, teachers, courses (with their detail, price policies,
FAQs and chapters in place), chapters (with their sections in place) and degree courses.

Saving commits through Flask-Admin's session; the catalog cache notices the commit by itself
(app/services/catalog_cache.py) and bumps its version, which also asks for a homepage rebuild.
"""

from __future__ import annotations

from flask_admin.contrib.sqla.form import InlineOneToOneModelConverter
from flask_admin.model.form import InlineFormAdmin
from flask_babel import lazy_gettext as _l
from wtforms.validators import (
    URL,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from app.admin.base import StaffModelView
from app.forms.richtext import RichTextField
from app.models import (
    FAQ,
    CourseChapter,
    CourseDetail,
    CourseSection,
    PricePolicy,
)
from app.models.catalog import CourseType, Level, ProductStatus, SectionType
from app.services.coupon_rules import VALUE_MAX

SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=_l("Lower-case letters, digits and dashes."))
NOT_NEGATIVE = NumberRange(min=0, message=_l("Must be 0 or more."))
# What NUMERIC(10,2) holds: a bigger price is a field message, not a database error.
PRICE = NumberRange(min=0, max=VALUE_MAX, message=_l("Must be from 0 to 99999999.99."))
STATUS_CHOICES = [
    (ProductStatus.ONLINE.value, _l("Online")),
    (ProductStatus.OFFLINE.value, _l("Offline")),
    (ProductStatus.UPCOMING.value, _l("Upcoming")),
]
LEVEL_CHOICES = [
    (Level.BEGINNER.value, _l("Beginner")),
    (Level.INTERMEDIATE.value, _l("Intermediate")),
    (Level.ADVANCED.value, _l("Advanced")),
]
PRODUCT_ARGS = {
    "name": {"validators": [DataRequired(), Length(max=128)]},
    "slug": {"validators": [DataRequired(), Length(max=128), SLUG]},
    "period": {"validators": [NOT_NEGATIVE]},
    "sort_order": {"validators": [Optional()]},
}


class PricePolicyInline(InlineFormAdmin):
    """A period (days, 0 = forever) and its price; an old policy is switched off, never
    deleted once orders point at it."""

    form_columns = ("id", "valid_period", "price", "active")
    form_args = {
        "valid_period": {
            "label": _l("Days (0 = forever)"),
            "validators": [InputRequired(), NOT_NEGATIVE],
        },
        "price": {"label": _l("Price (¥)"), "validators": [InputRequired(), PRICE]},
    }


class FaqInline(InlineFormAdmin):
    form_columns = ("id", "question", "answer", "sort_order")
    form_args = {"question": {"validators": [DataRequired(), Length(max=255)]}}


class ChapterInline(InlineFormAdmin):
    form_columns = ("id", "number", "name", "summary")
    form_args = {
        "number": {"validators": [NumberRange(min=1, message=_l("Must be 1 or more."))]},
        "name": {"validators": [DataRequired(), Length(max=128)]},
    }


class SectionInline(InlineFormAdmin):
    form_columns = ("id", "position", "name", "section_type", "link", "duration", "free_trial")
    form_choices = {
        "section_type": [
            (SectionType.VIDEO.value, _l("Video")),
            (SectionType.DOCUMENT.value, _l("Document")),
            (SectionType.EXERCISE.value, _l("Exercise")),
        ]
    }
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=128)]},
        "position": {"validators": [NOT_NEGATIVE]},
        "duration": {"label": _l("Duration (seconds)"), "validators": [Optional(), NOT_NEGATIVE]},
        "link": {"validators": [Optional(), URL(require_tld=False), Length(max=255)]},
    }


class DetailInline(InlineFormAdmin):
    """The course's one detail row, edited on the course's own page."""

    inline_converter = InlineOneToOneModelConverter
    form_overrides = {"what_to_study": RichTextField}  # Flask-Admin knows no RichText column
    form_columns = (
        "hours",
        "slogan",
        "video_brief_link",
        "why_study",
        "what_to_study",
        "career_improvement",
        "prerequisite",
    )
    form_args = {
        "hours": {"validators": [Optional(), NOT_NEGATIVE]},
        "video_brief_link": {"validators": [Optional(), URL(require_tld=False), Length(max=255)]},
    }


class CategoryView(StaffModelView):
    column_list = ("name", "name_en", "sort_order")
    column_default_sort = ("sort_order", False)
    form_columns = ("name", "name_en", "sort_order")
    form_args = {"name": {"validators": [DataRequired(), Length(max=64)]}}


class TeacherView(StaffModelView):
    column_list = ("name", "role", "title")
    column_searchable_list = ("name",)
    form_columns = ("name", "role", "title", "signature", "image", "brief")
    form_choices = {"role": [("lecturer", _l("Lecturer")), ("mentor", _l("Mentor"))]}
    form_args = {"name": {"validators": [DataRequired(), Length(max=64)]}}


class CourseView(StaffModelView):
    rich_text_editor = True  # luffy_base.html loads Quill for the detail's rich text
    edit_template = "admin/courses/edit.html"  # links each chapter to its sections' page
    column_list = ("id", "name", "category", "level", "status", "sort_order", "created_at")
    column_searchable_list = ("name", "slug")
    column_filters = ("status", "level", "category")
    column_default_sort = ("sort_order", False)
    form_columns = (
        "name",
        "slug",
        "status",
        "category",
        "course_type",
        "level",
        "period",
        "sort_order",
        "brief",
        "course_img",
        "teachers",
        "recommended",
    )
    form_choices = {
        "status": STATUS_CHOICES,
        "level": LEVEL_CHOICES,
        "course_type": [
            (CourseType.PAID.value, _l("Paid course")),
            (CourseType.VIP.value, _l("VIP course")),
        ],
    }
    form_args = {
        **PRODUCT_ARGS,
        "period": {**PRODUCT_ARGS["period"], "label": _l("Suggested study days")},
    }
    inline_models = (
        DetailInline(CourseDetail),
        PricePolicyInline(PricePolicy),
        FaqInline(FAQ),
        ChapterInline(CourseChapter),
    )


class ChapterView(StaffModelView):
    """A chapter and its sections, in place (reached from the course's chapter list)."""

    column_list = ("course", "number", "name")
    column_filters = ("course.name",)
    column_labels = {"course.name": _l("Course")}
    column_default_sort = [("course_id", False), ("number", False)]
    form_columns = ("course", "number", "name", "summary")
    form_args = ChapterInline.form_args
    inline_models = (SectionInline(CourseSection),)


class DegreeCourseView(StaffModelView):
    column_list = ("id", "name", "status", "period", "total_scholarship")
    column_searchable_list = ("name", "slug")
    form_columns = (
        "name",
        "slug",
        "status",
        "period",
        "sort_order",
        "brief",
        "course_img",
        "total_scholarship",
        "scholarship_rules",
        "courses",
        "mentors",
    )
    form_choices = {"status": STATUS_CHOICES}
    form_args = {**PRODUCT_ARGS, "total_scholarship": {"validators": [PRICE]}}
    inline_models = (PricePolicyInline(PricePolicy), FaqInline(FAQ))
