"""Data of bench/learning.py, made inside the store's app (`python bench/learning_data.py N`):
N students each granted the first online course with video sections, an API token each, and
a 32 MB lesson file attached to a free-trial section (the demo's files are ~100 KB: too small
for 1 MB ranges). Prints JSON: tokens, the paid section to report progress on, the big
section, and the big file's size."""

from __future__ import annotations

import json
import os
import sys

from sqlalchemy import select


def main(count: int) -> None:
    from app import create_app
    from app.extensions import db
    from app.models import Course, CourseChapter, CourseSection, ProductStatus, User
    from app.models.types import utcnow
    from app.services import media
    from app.services.accounts import create_user
    from app.services.enrollment import grant_access
    from app.services.tokens import issue_token

    app = create_app()
    with app.app_context():
        course, section = db.session.execute(
            select(Course, CourseSection)
            .join(CourseChapter, CourseChapter.course_id == Course.id)
            .join(CourseSection, CourseSection.chapter_id == CourseChapter.id)
            .where(
                Course.status == ProductStatus.ONLINE,
                CourseSection.media_file.is_not(None),
                CourseSection.free_trial.is_(False),
            )
            .order_by(Course.id, CourseSection.id)
        ).first()
        staff = create_user("bench_staff", "bench-password-1", email="", is_staff=True)
        tokens = []
        now = utcnow()
        for number in range(count):
            # One hash for all (argon2 is slow on purpose; these never sign in).
            user = User(username=f"bench_student_{number}", password_hash=staff.password_hash)
            db.session.add(user)
            db.session.flush()
            grant_access(
                user.id, course.id, granted_by_id=staff.id, reason="bench", now=now, days=30
            )
            key, _ = issue_token(user)
            tokens.append(key)
        trial = db.session.scalar(
            select(CourseSection)
            .join(CourseChapter, CourseChapter.id == CourseSection.chapter_id)
            .join(Course, Course.id == CourseChapter.course_id)
            .where(CourseSection.free_trial.is_(True), Course.status == ProductStatus.ONLINE)
            .order_by(CourseSection.id)
        )
        name = media.new_media_name("mp4")
        size = 32 * 1024 * 1024
        with (media.media_folder() / name).open("wb") as out:
            out.write(os.urandom(size))
        trial.media_file = name
        db.session.commit()
        print(
            json.dumps(
                {
                    "tokens": tokens,
                    "section_id": section.id,
                    "duration": section.duration,
                    "big_section_id": trial.id,
                    "big_size": size,
                    "media_folder": str(media.media_folder()),
                }
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
