"""The catalog's staff pages: categories, teachers, courses (with their detail, price policies,
FAQs and chapters in place), chapters (with their sections in place) and degree courses.

Saving commits through Flask-Admin's session; the catalog cache notices the commit by itself
(app/services/catalog_cache.py) and bumps its version, which also asks for a homepage rebuild.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_admin.contrib.sqla.form import InlineOneToOneModelConverter
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms.validators import (
    URL,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
)

from app.admin.base import StaffInline, StaffModelView
from app.admin.covers import CoverField, cover_thumbnail, show_cover, take_cover
from app.admin.labels import (
    COURSE_TYPES,
    FIELD_LABELS,
    LEVELS,
    PRODUCT_STATUS,
    ROLES,
    SECTION_TYPES,
    choices,
)
from app.admin.tabs import Tab, Tabs
from app.forms.richtext import RichTextField
from app.i18n import say
from app.models import (
    FAQ,
    CourseChapter,
    CourseDetail,
    CourseSection,
    PricePolicy,
)
from app.services import media
from app.services.coupon_rules import VALUE_MAX
from app.services.errors import DomainError

# Room in a chapter's form besides one video: the other fields and the multipart boundaries.
VIDEO_FORM_OVERHEAD = 1024 * 1024
SLUG = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=_l("Lower-case letters, digits and dashes."))
NOT_NEGATIVE = NumberRange(min=0, message=_l("Must be 0 or more."))
# What NUMERIC(10,2) holds: a bigger price is a field message, not a database error.
PRICE = NumberRange(min=0, max=VALUE_MAX, message=_l("Must be from 0 to 99999999.99."))
STATUS_CHOICES = choices(PRODUCT_STATUS)
LEVEL_CHOICES = choices(LEVELS)
PRODUCT_ARGS = {
    "name": {"validators": [DataRequired(), Length(max=128)]},
    "slug": {"validators": [DataRequired(), Length(max=128), SLUG]},
    "period": {"validators": [NOT_NEGATIVE]},
    "sort_order": {"validators": [Optional()]},
}


class PricePolicyInline(StaffInline):
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


class FaqInline(StaffInline):
    form_columns = ("id", "question", "answer", "sort_order")
    form_args = {"question": {"validators": [DataRequired(), Length(max=255)]}}


class ChapterInline(StaffInline):
    form_columns = ("id", "number", "name", "summary")
    form_args = {
        "number": {"validators": [NumberRange(min=1, message=_l("Must be 1 or more."))]},
        "name": {"validators": [DataRequired(), Length(max=128)]},
    }


class LessonVideoField(FileField):
    """A section's video (MP4 or WebM). Validating it stores it (app/services/media.py:
    streamed to disk up to MEDIA_MAX_BYTES, probed with PyAV); a file that is not really a
    video is a field message. The stored name and probe wait in `stored` for the save."""

    stored: tuple[str, media.Probe] | None = None

    def pre_validate(self, form: Any) -> None:
        self.stored = None
        upload = self.data
        if upload is None or not getattr(upload, "filename", ""):
            return  # nothing chosen: the section keeps its file
        try:
            self.stored = media.store_video(upload.stream)
        except DomainError as exc:
            raise StopValidation(say(exc.fields.get("media", exc.message))) from None


class SectionInline(StaffInline):
    form_columns = (
        "id",
        "position",
        "name",
        "section_type",
        "link",
        "duration",
        "free_trial",
        "content",
    )
    form_overrides = {"content": RichTextField}
    form_choices = {"section_type": choices(SECTION_TYPES)}
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=128)]},
        "position": {"validators": [NOT_NEGATIVE]},
        "duration": {"label": _l("Duration (seconds)"), "validators": [Optional(), NOT_NEGATIVE]},
        "link": {"validators": [Optional(), URL(require_tld=False), Length(max=255)]},
        "content": {"label": _l("Text (documents) or instructions (exercises)")},
    }

    def postprocess_form(self, form_class: Any) -> Any:
        form_class.video = LessonVideoField(
            _l("Video file (MP4 or WebM)"),
            description=_l(
                "Replaces the section's video; its duration is read from the file. Students "
                "watching the old one go on until their link expires."
            ),
            render_kw={"accept": "video/mp4,video/webm"},
        )
        return form_class

    def on_model_change(self, form: Any, model: CourseSection, is_created: bool) -> None:
        stored = form.video.stored
        if stored is not None:
            # A new name: URLs already handed out name the old file, which stays until it is
            # pruned (flask prune-media) once no URL can name it any more.
            name, probe = stored
            model.media_file = name
            model.media_type = media.content_type_of(name)
            model.duration = probe.duration_s


class DetailInline(StaffInline):
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
    form_choices = {"role": choices(ROLES)}
    form_args = {"name": {"validators": [DataRequired(), Length(max=64)]}}


def _label_detail(form: Any) -> Any:
    # Flask-Admin gives a one-to-one inline form no label of ours (it would read "Detail").
    form.detail.label.text = str(FIELD_LABELS["detail"])
    return form


class ProductView(StaffModelView):
    """What courses and degree courses share: the cover, uploaded and shown."""

    form_extra_fields = {"cover": CoverField()}
    column_formatters = {"course_img": cover_thumbnail}

    def create_form(self, obj: Any = None) -> Any:
        return show_cover(super().create_form(obj), obj)

    def edit_form(self, obj: Any = None) -> Any:
        return show_cover(super().edit_form(obj), obj)

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        take_cover(form, model)


COURSE_BASICS = (
    "name",
    "slug",
    "status",
    "category",
    "course_type",
    "level",
    "period",
    "sort_order",
    "brief",
    "cover",
    "teachers",
    "recommended",
)
COURSE_PRICES = ("price_policies", "faqs")


class CourseView(ProductView):
    """A course in four tabs: its basics, its detail, its prices and FAQs, its chapters."""

    rich_text_editor = True  # luffy_base.html loads Quill for the detail's rich text
    edit_template = "admin/courses/edit.html"  # links each chapter to its sections' page
    column_list = (
        "id",
        "course_img",
        "name",
        "category",
        "level",
        "status",
        "sort_order",
        "created_at",
    )
    column_details_list = (
        "id",
        "course_img",
        "name",
        "slug",
        "status",
        "category",
        "course_type",
        "level",
        "period",
        "sort_order",
        "brief",
        "teachers",
        "created_at",
        "updated_at",
    )
    column_searchable_list = ("name", "slug")
    column_filters = ("status", "level", "category.name")
    column_labels = {"category.name": FIELD_LABELS["category"], "course_img": _l("Cover")}
    column_choices = {"status": STATUS_CHOICES, "level": LEVEL_CHOICES}
    column_default_sort = ("sort_order", False)
    # The form is its tabs' fields, in the tabs' order (one list, so the two cannot drift).
    form_columns = (*COURSE_BASICS, "detail", *COURSE_PRICES, "chapters")
    form_rules = (
        Tabs(
            Tab("basics", _l("Basics"), list(COURSE_BASICS)),
            Tab("detail", _l("Detail"), ["detail"]),
            Tab("prices", _l("Prices and FAQs"), list(COURSE_PRICES)),
            Tab("chapters", _l("Chapters"), ["chapters"]),
        ),
    )
    form_choices = {
        "status": STATUS_CHOICES,
        "level": LEVEL_CHOICES,
        "course_type": choices(COURSE_TYPES),
    }
    form_args = {
        **PRODUCT_ARGS,
        "period": {**PRODUCT_ARGS["period"], "label": _l("Suggested study days")},
        "category": {"blank_text": _l("No category")},
    }
    inline_models = (
        DetailInline(CourseDetail),
        PricePolicyInline(PricePolicy),
        FaqInline(FAQ),
        ChapterInline(CourseChapter),
    )

    def create_form(self, obj: Any = None) -> Any:
        return _label_detail(super().create_form(obj))

    def edit_form(self, obj: Any = None) -> Any:
        return _label_detail(super().edit_form(obj))


class ChapterView(StaffModelView):
    """A chapter and its sections, in place (reached from the course's chapter list)."""

    column_list = ("course", "number", "name")
    column_filters = ("course.name",)
    column_labels = {"course.name": _l("Course")}
    column_default_sort = [("course_id", False), ("number", False)]
    form_columns = ("course", "number", "name", "summary")
    form_args = ChapterInline.form_args
    inline_models = (SectionInline(CourseSection),)
    rich_text_editor = True  # a document's text, an exercise's instructions

    def create_blueprint(self, admin: Any) -> Any:
        blueprint = super().create_blueprint(admin)

        @blueprint.url_value_preprocessor
        def _room_for_videos(endpoint: str | None, _values: dict | None) -> None:
            # Before CSRFProtect reads the form: the chapter's forms carry section videos,
            # up to MEDIA_MAX_BYTES each (Werkzeug spools file parts to disk as it reads).
            if request.method == "POST":
                request.max_content_length = (
                    current_app.config["MEDIA_MAX_BYTES"] + VIDEO_FORM_OVERHEAD
                )

        return blueprint


class DegreeCourseView(ProductView):
    column_list = ("id", "course_img", "name", "status", "period", "total_scholarship")
    column_details_list = (
        "id",
        "course_img",
        "name",
        "slug",
        "status",
        "period",
        "sort_order",
        "brief",
        "total_scholarship",
        "scholarship_rules",
        "courses",
        "mentors",
        "created_at",
        "updated_at",
    )
    column_labels = {"course_img": _l("Cover")}
    column_searchable_list = ("name", "slug")
    form_columns = (
        "name",
        "slug",
        "status",
        "period",
        "sort_order",
        "brief",
        "cover",
        "total_scholarship",
        "scholarship_rules",
        "courses",
        "mentors",
    )
    form_choices = {"status": STATUS_CHOICES}
    form_args = {**PRODUCT_ARGS, "total_scholarship": {"validators": [PRICE]}}
    inline_models = (PricePolicyInline(PricePolicy), FaqInline(FAQ))
