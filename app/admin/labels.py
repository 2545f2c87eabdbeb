"""What the staff pages call the models' fields and their stored values, in the page's language.

`FIELD_LABELS` names every field a list, form, detail page, filter or search box shows (a view's
own `column_labels` win over it); `VALUE_LABELS` turns a stored value (`beginner`, `online`) into
its label, for every view showing a field of that name (a view's own formatter wins).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.models.catalog import CourseType, ItemType, Level, ProductStatus, SectionType

FIELD_LABELS = {
    "id": _l("ID"),
    "name": _l("Name"),
    "name_en": _l("English name"),
    "slug": _l("Address name (slug)"),
    "sort_order": _l("Sort order"),
    "status": _l("Status"),
    "category": _l("Category"),
    "course_type": _l("Course type"),
    "level": _l("Level"),
    "period": _l("Suggested study days"),
    "brief": _l("Brief"),
    "course_img": _l("Cover image"),
    "teachers": _l("Teachers"),
    "recommended": _l("Recommended courses"),
    "item_type": _l("Product kind"),
    "created_at": _l("Created"),
    "updated_at": _l("Updated"),
    "detail": _l("Course detail"),
    "price_policies": _l("Price policies"),
    "faqs": _l("Frequently asked questions"),
    "chapters": _l("Chapters"),
    "sections": _l("Sections"),
    "hours": _l("Hours"),
    "slogan": _l("Slogan"),
    "video_brief_link": _l("Introduction video link"),
    "why_study": _l("Why study it"),
    "what_to_study": _l("What you will learn"),
    "career_improvement": _l("Career improvement"),
    "prerequisite": _l("Prerequisites"),
    "valid_period": _l("Days (0 = forever)"),
    "price": _l("Price"),
    "active": _l("Switched on"),
    "question": _l("Question"),
    "answer": _l("Answer"),
    "course": _l("Course"),
    "courses": _l("Courses"),
    "number": _l("Number"),
    "summary": _l("Summary"),
    "position": _l("Position"),
    "section_type": _l("Section type"),
    "link": _l("Link"),
    "duration": _l("Duration (seconds)"),
    "free_trial": _l("Free trial"),
    "role": _l("Role"),
    "title": _l("Title"),
    "signature": _l("Signature"),
    "image": _l("Photo"),
    "total_scholarship": _l("Total scholarship"),
    "scholarship_rules": _l("Scholarship rules"),
    "mentors": _l("Mentors"),
    "kind": _l("Kind"),
    "quantity": _l("Quantity"),
    "claimed": _l("Claimed"),
    "code": _l("Code"),
    "coupon": _l("Coupon"),
    "order": _l("Order"),
    "user": _l("Student"),
    "username": _l("Username"),
    "user.username": _l("Username"),
    "email": _l("Email"),
    "trade_no": _l("Gateway trade number"),
    "idempotency_key": _l("Idempotency key"),
    "refund_reason": _l("Refund reason"),
    "refund_error": _l("Refund error"),
    "gateway": _l("Gateway"),
    "trade_status": _l("Gateway status"),
    "outcome": _l("Outcome"),
    "verified": _l("Verified"),
    "note": _l("Note"),
    "payload": _l("Payload"),
    "product": _l("Product"),
    "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until"),
}

PRODUCT_STATUS = {
    ProductStatus.ONLINE.value: _l("Online"),
    ProductStatus.OFFLINE.value: _l("Offline"),
    ProductStatus.UPCOMING.value: _l("Upcoming"),
}
LEVELS = {
    Level.BEGINNER.value: _l("Beginner"),
    Level.INTERMEDIATE.value: _l("Intermediate"),
    Level.ADVANCED.value: _l("Advanced"),
}
COURSE_TYPES = {CourseType.PAID.value: _l("Paid course"), CourseType.VIP.value: _l("VIP course")}
SECTION_TYPES = {
    SectionType.VIDEO.value: _l("Video"),
    SectionType.DOCUMENT.value: _l("Document"),
    SectionType.EXERCISE.value: _l("Exercise"),
}
ITEM_TYPES = {
    ItemType.COURSE.value: _l("Course"),
    ItemType.DEGREE_COURSE.value: _l("Degree course"),
}
ROLES = {"lecturer": _l("Lecturer"), "mentor": _l("Mentor")}
GATEWAYS = {"alipay": _l("Alipay"), "sandbox": _l("Sandbox"), "unknown": _l("Unknown")}
OUTCOMES = {
    "applied": _l("Applied"),
    "recorded": _l("Recorded"),
    "duplicate": _l("Duplicate"),
    "needs_refund": _l("Needs a refund"),
    "amount_mismatch": _l("Amount mismatch"),
    "wrong_gateway": _l("Wrong gateway"),
    "unknown_order": _l("Unknown order"),
    "unknown_app_id": _l("Unknown app id"),
    "repeated_parameter": _l("Repeated parameter"),
    "bad_signature": _l("Bad signature"),
}

VALUE_LABELS = {
    "status": PRODUCT_STATUS,
    "level": LEVELS,
    "course_type": COURSE_TYPES,
    "section_type": SECTION_TYPES,
    "item_type": ITEM_TYPES,
    "role": ROLES,
    "gateway": GATEWAYS,
    "outcome": OUTCOMES,
}


def choices(labels: dict) -> list[tuple[str, object]]:
    """A select's choices from a value -> label mapping."""
    return list(labels.items())
