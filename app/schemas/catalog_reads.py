"""The catalog as students see it: each read loaded (app/services/catalog.py), shaped
(app/schemas/catalog.py) and cached per catalog version (app/services/catalog_cache.py).

Each read also comes as `..._json()`, its JSON text, which the cache encodes once per catalog
version. The dicts are shared by every request of the process: never change them.
"""

from __future__ import annotations

from typing import Any

from app.i18n import current_language
from app.models import ProductStatus
from app.schemas.base import page_dict
from app.schemas.catalog import (
    category_dict,
    course_dict,
    course_summary,
    degree_dict,
    degree_summary,
)
from app.services import catalog
from app.services.catalog import CourseQuery
from app.services.catalog_cache import Entry, cached_entry
from app.services.errors import N_, NotFound


def _categories() -> Entry:
    return cached_entry(
        "categories",
        (current_language(),),
        lambda: [category_dict(c) for c in catalog.categories()],
    )


def list_categories() -> list[dict[str, Any]]:
    return _categories().value


def list_categories_json() -> bytes:
    return _categories().json()


def _courses(query: CourseQuery) -> Entry:
    key = (current_language(), *(getattr(query, f) for f in query.__dataclass_fields__))
    return cached_entry(
        "courses", key, lambda: page_dict(catalog.course_page(query), course_summary)
    )


def list_courses(query: CourseQuery) -> dict[str, Any]:
    return _courses(query).value


def list_courses_json(query: CourseQuery) -> bytes:
    return _courses(query).json()


def _shaped(found, shape) -> dict[str, Any] | None:
    return None if found is None else shape(found)


def _course(course_id: int, status: ProductStatus, name: str) -> Entry:
    found = cached_entry(
        name,
        (current_language(), course_id),
        lambda: _shaped(catalog.find_course(course_id, status), course_dict),
    )
    if found.value is None:
        raise NotFound(N_("No such course."))
    return found


def get_course(course_id: int) -> dict[str, Any]:
    """The course page's whole content; NotFound for unknown and hidden courses alike."""
    return _course(course_id, ProductStatus.ONLINE, "course").value


def get_course_json(course_id: int) -> bytes:
    return _course(course_id, ProductStatus.ONLINE, "course").json()


def get_upcoming_course(course_id: int) -> dict[str, Any]:
    """An upcoming course, for its page to announce (not to sell: it has no price policies
    here, and offers refuse it); NotFound for any other course. The API keeps to online ones."""
    return _course(course_id, ProductStatus.UPCOMING, "upcoming_course").value


def _degree_courses(page: int, per_page: int) -> Entry:
    return cached_entry(
        "degrees",
        (current_language(), page, per_page),
        lambda: page_dict(catalog.degree_page(page, per_page), degree_summary),
    )


def list_degree_courses(page: int = 1, per_page: int = 12) -> dict[str, Any]:
    return _degree_courses(page, per_page).value


def list_degree_courses_json(page: int = 1, per_page: int = 12) -> bytes:
    return _degree_courses(page, per_page).json()


def _degree_course(degree_id: int) -> Entry:
    found = cached_entry(
        "degree",
        (current_language(), degree_id),
        lambda: _shaped(catalog.find_degree_course(degree_id), degree_dict),
    )
    if found.value is None:
        raise NotFound(N_("No such degree course."))
    return found


def get_degree_course(degree_id: int) -> dict[str, Any]:
    return _degree_course(degree_id).value


def get_degree_course_json(degree_id: int) -> bytes:
    return _degree_course(degree_id).json()


def homepage() -> dict[str, Any]:
    """What the homepage shows: nothing personal, the same for every visitor of a language."""
    return {
        "categories": list_categories(),
        "featured": list_courses(CourseQuery(per_page=8))["items"],
        "newest": list_courses(CourseQuery(sort="newest", per_page=4))["items"],
        "degree_courses": list_degree_courses(per_page=4)["items"],
    }
