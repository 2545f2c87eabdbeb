"""A stand-in catalog for when `seed-demo` makes no courses: `python bench/catalog_data.py`."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from sqlalchemy import func, select

# Each course like a seeded one: a detail, chapters of sections, teachers, price policies,
# FAQs and recommendations, so that a course page costs what a real one costs.
COURSES = 24
CHAPTERS = 5
SECTIONS = 4
POLICIES = ((30, "99.00"), (90, "239.00"), (180, "399.00"), (0, "599.00"))
CATEGORIES = (("Python", "Python"), ("Linux 运维", "Linux Ops"), ("前端", "Front-end"))
LEVELS = ("beginner", "intermediate", "advanced")


def online_courses() -> int:
    from app.extensions import db
    from app.models import Course, ProductStatus

    return db.session.scalar(
        select(func.count()).select_from(Course).where(Course.status == ProductStatus.ONLINE)
    )


def build_catalog() -> int:
    """Add COURSES online courses (and what they need); returns how many were added."""
    from app.extensions import db
    from app.models import (
        FAQ,
        Course,
        CourseCategory,
        CourseChapter,
        CourseDetail,
        CourseSection,
        PricePolicy,
        Teacher,
    )

    categories = [
        CourseCategory(name=f"bench {name}", name_en=f"bench {name_en}", sort_order=i)
        for i, (name, name_en) in enumerate(CATEGORIES)
    ]
    teachers = [
        Teacher(
            name=f"讲师 {i}", title="资深工程师", signature="代码是写给人看的", brief="十年经验。"
        )
        for i in range(4)
    ]
    db.session.add_all([*categories, *teachers])
    courses = []
    for i in range(COURSES):
        course = Course(
            name=f"基准课程 {i + 1}：从入门到实战",
            slug=f"bench-course-{i + 1}",
            brief="零基础也能学会的入门课，从环境搭建到完整项目，一步步写出可上线的程序。",
            course_img="/static/img/covers/python.svg",
            category=categories[i % len(categories)],
            level=LEVELS[i % len(LEVELS)],
            status="online",
            sort_order=i,
            period=30,
        )
        course.detail = CourseDetail(
            hours=24,
            slogan="人生苦短，我用 Python",
            why_study="语法简洁、生态丰富，是自动化、Web 开发与数据分析的首选。" * 3,
            what_to_study="<ul>" + "<li>函数、模块与包</li>" * 8 + "</ul>",
            career_improvement="胜任脚本开发与自动化办公，为后续进阶打下基础。" * 2,
            prerequisite="无需编程基础，会用电脑即可。",
        )
        course.teachers = [teachers[i % len(teachers)], teachers[(i + 1) % len(teachers)]]
        for number in range(1, CHAPTERS + 1):
            chapter = CourseChapter(number=number, name=f"第 {number} 章", summary="本章要点。")
            for position in range(1, SECTIONS + 1):
                chapter.sections.append(
                    CourseSection(
                        position=position,
                        name=f"第 {number}.{position} 节",
                        section_type="video",
                        link=f"https://video.example.com/bench/{i}/{number}/{position}",
                        duration=600 + position * 60,
                        free_trial=number == 1 and position == 1,
                    )
                )
            course.chapters.append(chapter)
        for period, price in POLICIES:
            course.price_policies.append(PricePolicy(valid_period=period, price=Decimal(price)))
        for n in range(3):
            course.faqs.append(FAQ(question=f"常见问题 {n + 1}？", answer="可以。", sort_order=n))
        courses.append(course)
    db.session.add_all(courses)
    db.session.flush()
    for i, course in enumerate(courses):
        course.recommended = [courses[(i + 1) % COURSES], courses[(i + 2) % COURSES]]
    db.session.commit()  # the app's listener bumps the catalog cache version after this
    return len(courses)


def main() -> int:
    from app import create_app

    app = create_app()
    with app.app_context():
        before = online_courses()
        added = build_catalog() if before == 0 else 0
        print(json.dumps({"online_before": before, "added": added, "online": online_courses()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
