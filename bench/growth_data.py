"""The big store for bench/growth.py, built in bulk (multi-row INSERTs), never through the API.

Beside `seed-demo`'s catalog and accounts: `courses` more courses (each with a detail, three
price policies, two chapters of three sections), `students` more students, `orders` orders
(60 % with one line, 40 % with two: 1.4 lines an order) spread over the last two years, mostly
paid, and an enrollment for each paid line. The demo student gets 20 paid orders of their own.
The data is made for schema 0002 (the columns every release has); later migrations fill
their own columns when `flask db upgrade` runs over it.

Everything is deterministic (a seeded random), so two builds at one scale are the same store.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

DEMO_ORDERS = 20
NOW = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)  # naive UTC, as stored
START = NOW - timedelta(days=730)
# argon2id of "growth-bench": no one signs in as these students
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$Z3Jvd3RoYmVuY2g$wQ2v8b6x8Hn0bQ1bQq0mYw"  # noqa: S105

WORDS_ZH = [
    "爬虫", "数据", "分析", "机器", "学习", "深度", "网络", "开发", "实战", "入门", "进阶",
    "算法", "架构", "运维", "测试", "前端", "后端", "安全", "云计算", "容器", "微服务",
    "人工智能", "自然语言", "图像", "识别", "并发", "编程", "数据库", "优化", "项目",
]  # fmt: skip
WORDS_EN = [
    "Python", "Django", "Flask", "Go", "Linux", "Docker", "Kubernetes", "Redis", "MySQL",
    "React", "Vue", "Rust", "Java", "Spark", "Pandas", "NumPy", "Scrapy", "Git", "Nginx",
    "Celery", "asyncio", "TensorFlow", "PyTorch", "Elasticsearch", "Kafka", "Ansible",
]  # fmt: skip
PERIODS = [(30, "1 month"), (90, "3 months"), (0, "forever")]


def chunks(rows: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert(cur, table: str, columns: Sequence[str], rows: Sequence[tuple], size: int = 5000):
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    for part in chunks(rows, size):
        cur.executemany(sql, part)


def _course_name(rng: random.Random, n: int) -> tuple[str, str]:
    zh = rng.sample(WORDS_ZH, 2)
    en = rng.choice(WORDS_EN)
    name = f"{en} {zh[0]}{zh[1]} {n}"
    topic = rng.choice(WORDS_EN)
    brief = f"{rng.choice(WORDS_ZH)}与{rng.choice(WORDS_ZH)}: learn {topic} step by step."
    return name[:128], brief


def derived_columns(cur) -> None:
    """Columns a later schema derives from others, filled as the store's code would fill
    them (a build on schema 0002 has none; `flask db upgrade` fills them there)."""
    cur.execute("SHOW COLUMNS FROM products")
    columns = {row[0] for row in cur.fetchall()}
    if "sort_price" in columns:
        cur.execute(
            "UPDATE products SET sort_price = (SELECT MIN(p.price) FROM price_policies p"
            " WHERE p.product_id = products.id AND p.active = 1)"
        )
    if "students" in columns:
        cur.execute(
            "UPDATE products SET students = (SELECT COUNT(*) FROM enrollments e"
            " WHERE e.product_id = products.id)"
        )
    if "search_text" in columns:
        from app.models.search import search_text

        cur.execute("SELECT id, name, brief FROM products")
        rows = [(search_text(name, brief), pid) for pid, name, brief in cur.fetchall()]
        for part in chunks(rows, 2000):
            cur.executemany("UPDATE products SET search_text = %s WHERE id = %s", part)


def build(conn, *, courses: int, students: int, orders: int, log=print) -> dict[str, int]:
    """Add the bulk data to a migrated, seeded database (schema 0002 or later)."""
    rng = random.Random(14)
    cur = conn.cursor()
    cur.execute("SET SESSION foreign_key_checks=0, unique_checks=0")
    started = time.monotonic()

    def step(what: str) -> None:
        log(f"  {time.monotonic() - started:7.1f} s  {what}")

    cur.execute("SELECT COALESCE(MAX(id), 0) FROM products")
    (first_product,) = cur.fetchone()
    cur.execute("SELECT id FROM course_categories ORDER BY id")
    categories = [row[0] for row in cur.fetchall()] or [None]
    cur.execute("SELECT id FROM teachers ORDER BY id")
    teachers = [row[0] for row in cur.fetchall()]

    # --- catalog ---------------------------------------------------------------------------
    products, course_rows, details, chapters, teacher_rows = [], [], [], [], []
    for n in range(courses):
        pid = first_product + 1 + n
        name, brief = _course_name(rng, n)
        created = START + timedelta(seconds=rng.randrange(730 * 86400))
        products.append((pid, "course", name, brief, "", "online", 100 + n % 50, created, created))
        course_rows.append(
            (pid, f"growth-{n}", "paid", rng.choice(["beginner", "intermediate", "advanced"]),
             7 + n % 30, rng.choice(categories))
        )  # fmt: skip
        details.append((pid, 10 + n % 40, f"{name}!", "", "why", "<p>what</p>", "career", "none"))
        if teachers:
            teacher_rows.append((pid, rng.choice(teachers)))
    product_cols = ["id", "item_type", "name", "brief", "course_img", "status", "sort_order",
                    "created_at", "updated_at"]  # fmt: skip
    cur.execute("SHOW COLUMNS FROM products LIKE 'search_text'")
    if cur.fetchall():  # NOT NULL from 0005 on: filled by derived_columns() below
        product_cols.append("search_text")
        products = [(*row, "") for row in products]
    insert(cur, "products", product_cols, products)
    insert(cur, "courses", ["id", "slug", "course_type", "level", "period", "category_id"],
           course_rows)  # fmt: skip
    insert(cur, "course_details", ["course_id", "hours", "slogan", "video_brief_link",
                                   "why_study", "what_to_study", "career_improvement",
                                   "prerequisite"], details)  # fmt: skip
    insert(cur, "course_teachers", ["course_id", "teacher_id"], teacher_rows)
    policies = []
    for pid, *_ in products:
        base = rng.randrange(49, 2999)
        for period, _text in PERIODS:
            factor = {30: 1.0, 90: 2.2, 0: 4.5}[period]
            policies.append((pid, period, f"{base * factor:.2f}", 1))
    insert(cur, "price_policies", ["product_id", "valid_period", "price", "active"], policies)
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM course_chapters")
    (chapter_id,) = cur.fetchone()
    sections = []
    for pid, *_ in products:
        for number in (1, 2):
            chapter_id += 1
            chapters.append((chapter_id, pid, number, f"第{number}章", ""))
            for position in (1, 2, 3):
                sections.append(
                    (chapter_id, position, f"{number}.{position}", "video", "", 600, position == 1)
                )
    insert(cur, "course_chapters", ["id", "course_id", "number", "name", "summary"], chapters)
    section_cols = ["chapter_id", "position", "name", "section_type", "link", "duration",
                    "free_trial"]  # fmt: skip
    cur.execute("SHOW COLUMNS FROM course_sections LIKE 'content'")
    if cur.fetchall():  # a lesson's text, NOT NULL from 0003 on
        section_cols.append("content")
        sections = [(*row, "") for row in sections]
    insert(cur, "course_sections", section_cols, sections)
    conn.commit()
    step(f"{courses} courses, {len(policies)} policies, {len(sections)} sections")

    # every online course with its policies: what order lines are made of
    cur.execute(
        "SELECT p.id, p.name, pp.id, pp.valid_period, pp.price FROM products p"
        " JOIN courses c ON c.id = p.id JOIN price_policies pp ON pp.product_id = p.id"
        " WHERE p.status = 'online' AND pp.active = 1 ORDER BY p.id, pp.valid_period"
    )
    sellable: dict[int, list[tuple]] = {}
    for pid, name, policy_id, period, price in cur.fetchall():
        sellable.setdefault(pid, []).append((name, policy_id, period, price))
    product_ids = sorted(sellable)
    # a few courses sell much more than the rest
    weights = [1.0 / (1 + i) ** 0.8 for i in range(len(product_ids))]
    rng.shuffle(weights)

    # --- students ----------------------------------------------------------------------------
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM users")
    (first_user,) = cur.fetchone()
    users = [
        (first_user + 1 + n, f"student{n:05d}", f"student{n:05d}", f"student{n:05d}@example.com",
         PASSWORD_HASH, 0, 1, 0, START + timedelta(seconds=n * 600))
        for n in range(students)
    ]  # fmt: skip
    insert(cur, "users", ["id", "username", "username_key", "email", "password_hash", "is_staff",
                          "active", "session_generation", "created_at"], users)  # fmt: skip
    conn.commit()
    cur.execute("SELECT id FROM users WHERE username_key = 'demo'")
    demo = cur.fetchone()
    demo_id = demo[0] if demo else None
    student_ids = [u[0] for u in users] or ([demo_id] if demo_id else [])
    step(f"{students} students")

    # --- orders ------------------------------------------------------------------------------
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM orders")
    (order_id,) = cur.fetchone()
    statuses = ["paid"] * 70 + ["cancelled"] * 12 + ["expired"] * 10 + ["refunded"] * 5
    statuses += ["refund_requested"] * 3
    order_cols = ["id", "order_no", "user_id", "status", "payment_method", "trade_no",
                  "original_amount", "discount_amount", "actual_amount", "created_at",
                  "expires_at", "paid_at", "closed_at", "needs_refund"]  # fmt: skip
    line_cols = ["order_id", "product_id", "price_policy_id", "item_type", "product_name",
                 "valid_period", "valid_period_text", "original_price", "coupon_discount",
                 "global_discount", "amount_paid"]  # fmt: skip
    texts = dict(PERIODS)
    batch = 50_000
    total_orders = total_lines = 0
    plan = [(demo_id, "paid") for _ in range(DEMO_ORDERS if demo_id else 0)]
    plan_rest = orders - len(plan)
    made = 0
    while made < len(plan) + plan_rest:
        order_rows, line_rows = [], []
        for _ in range(min(batch, len(plan) + plan_rest - made)):
            if made < len(plan):
                user_id, status = plan[made]
            else:
                user_id, status = rng.choice(student_ids), rng.choice(statuses)
            made += 1
            order_id += 1
            created = START + timedelta(seconds=rng.randrange(730 * 86400), microseconds=made)
            picked = set(rng.choices(product_ids, weights, k=1 if rng.random() < 0.6 else 2))
            total = 0
            for pid in picked:
                name, policy_id, period, price = rng.choice(sellable[pid])
                total += price
                text = texts.get(period, f"{period} days")
                line_rows.append(
                    (order_id, pid, policy_id, "course", name, period, text, price, 0, 0, price)
                )
            paid = status in ("paid", "refunded", "refund_requested")
            closed = status in ("cancelled", "expired", "refunded")
            order_rows.append(
                (order_id, f"{created:%Y%m%d}{order_id:012d}", user_id, status, "alipay",
                 f"T{order_id:020d}" if paid else None, total, 0, total, created,
                 created + timedelta(minutes=30), created + timedelta(minutes=1) if paid else None,
                 created + timedelta(minutes=30) if closed else None, 0)
            )  # fmt: skip
        insert(cur, "orders", order_cols, order_rows)
        insert(cur, "order_lines", line_cols, line_rows)
        conn.commit()
        total_orders += len(order_rows)
        total_lines += len(line_rows)
        step(f"{total_orders} orders, {total_lines} lines")

    # With unique_checks off, MariaDB's bulk load into an empty table drops every row of an
    # INSERT IGNORE that meets a duplicate: on for this one.
    cur.execute("SET SESSION unique_checks=1")
    cur.execute(
        "INSERT IGNORE INTO enrollments (user_id, product_id, valid_from, valid_until, updated_at)"
        " SELECT o.user_id, l.product_id, o.paid_at,"
        " CASE WHEN l.valid_period = 0 THEN NULL"
        "  ELSE o.paid_at + INTERVAL l.valid_period DAY END, o.paid_at"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id"
        " WHERE o.status IN ('paid', 'refund_requested')"
    )
    conn.commit()
    cur.execute("SELECT COUNT(*) FROM enrollments")
    (enrollments,) = cur.fetchone()
    step(f"{enrollments} enrollments")
    derived_columns(cur)
    step("derived columns")
    cur.execute("SET SESSION foreign_key_checks=1, unique_checks=1")
    cur.execute("ANALYZE TABLE products, courses, price_policies, users, orders, order_lines,"
                " enrollments")  # fmt: skip
    cur.fetchall()
    return {
        "courses": courses,
        "students": students,
        "orders": total_orders,
        "order_lines": total_lines,
        "enrollments": enrollments,
    }
