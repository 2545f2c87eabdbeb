"""fixed_url(): url_for() of the layout's fixed addresses, built once per app and mount point."""

from __future__ import annotations

from flask import url_for

from app.templating import fixed_url


def test_it_gives_what_url_for_gives_and_follows_the_mount_point(app):
    for root in ("", "/shop", ""):
        with app.test_request_context("/courses", base_url=f"http://localhost{root}"):
            for endpoint, values in [
                ("main.index", {}),
                ("courses.list_courses", {}),
                ("static", {"filename": "css/app.css"}),
            ]:
                assert fixed_url(endpoint, **values) == url_for(endpoint, **values)
                assert fixed_url(endpoint, **values).startswith(f"{root}/")


def test_the_layout_links_to_the_mount_point(client):
    client.get("/courses")  # the page at the root, kept for visitors
    page = client.get("/courses", base_url="http://localhost/shop").get_data(as_text=True)
    assert 'href="/shop/static/css/app.css"' in page
    assert 'href="/shop/coupons"' in page
