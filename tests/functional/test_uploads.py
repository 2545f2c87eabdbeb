"""Image uploads for rich text: only real JPEG, PNG and WebP, bounded in bytes and pixels (a
decompression bomb refused from its header), re-encoded without metadata or appended bytes,
stored under a random name, uploaded by staff only with a CSRF token, and served back safely."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from app.richtext import sanitize
from app.services.uploads import STORED_NAME
from tests.factories import UserFactory
from tests.pages import html, sign_in

UPLOAD = "/admin/uploads/images"
SECRET = b"SECRET-GPS-51.5N"
PAYLOAD = b"<script>alert('appended')</script>"


# --- images made here ---------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def exif_with_secret(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = SECRET.decode()  # ImageDescription
    exif[0x0112] = orientation
    return exif.tobytes()


def jpeg(size=(40, 20), **options) -> bytes:
    return encoded(Image.new("RGB", size, (200, 30, 30)), "JPEG", **options)


def png(size=(40, 20), mode="RGBA") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    return encoded(Image.new(mode, size, (10, 200, 10, 128)[: len(mode)]), "PNG", pnginfo=info)


def webp(size=(40, 20)) -> bytes:
    return encoded(Image.new("RGBA", size, (10, 10, 200, 255)), "WEBP", exif=exif_with_secret())


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\0" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def gif() -> bytes:
    return encoded(Image.new("P", (10, 10)), "GIF")


# --- helpers ------------------------------------------------------------------------------------


def post_image(client, data: bytes, filename="picture.png", content_type="image/png", **kwargs):
    return client.post(
        UPLOAD,
        data={"image": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
        **kwargs,
    )


def refused(response, status: int, slug: str) -> str:
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert body["error"] == slug, body
    assert body["message"]
    assert "url" not in body
    return body["message"]


def stored_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def stored_name(response) -> str:
    body = response.get_json()
    assert response.status_code == 201, body
    url = body["url"]
    name = url.removeprefix("/uploads/")
    assert url == f"/uploads/{name}"
    assert STORED_NAME.fullmatch(name)
    return name


def stored_image(app, name: str) -> tuple[bytes, Image.Image]:
    data = (Path(app.config["UPLOAD_FOLDER"]) / name).read_bytes()
    image = Image.open(io.BytesIO(data))
    image.load()
    return data, image


@pytest.fixture
def staff(app, client):
    user = UserFactory(is_staff=True)
    sign_in(client, user)
    client.set_cookie("lang", "en")  # the refusals below are read in English
    return user


# --- what is accepted, and how it is stored -----------------------------------------------------


def test_a_jpeg_is_re_encoded_without_its_exif_or_appended_bytes(app, client, staff):
    original = jpeg(size=(40, 20), exif=exif_with_secret(orientation=6)) + PAYLOAD
    name = stored_name(post_image(client, original, "photo.jpg", "image/jpeg"))
    data, image = stored_image(app, name)
    assert name.endswith(".jpg")
    assert image.format == "JPEG"
    assert SECRET not in data
    assert PAYLOAD not in data
    assert not image.getexif()
    # The EXIF orientation (rotate 90°) was applied before it went: the image stays upright.
    assert image.size == (20, 40)


def test_a_png_is_re_encoded_without_its_text_chunks_or_appended_bytes(app, client, staff):
    name = stored_name(post_image(client, png() + PAYLOAD))
    data, image = stored_image(app, name)
    assert name.endswith(".png")
    assert image.format == "PNG"
    assert image.mode == "RGBA"  # transparency kept
    assert image.getpixel((0, 0)) == (10, 200, 10, 128)
    assert SECRET not in data
    assert PAYLOAD not in data
    assert not image.text


def test_a_webp_is_re_encoded_without_its_exif(app, client, staff):
    name = stored_name(post_image(client, webp() + PAYLOAD, "a.webp", "image/webp"))
    data, image = stored_image(app, name)
    assert name.endswith(".webp")
    assert image.format == "WEBP"
    assert image.size == (40, 20)
    assert SECRET not in data
    assert PAYLOAD not in data


def test_pillow_decides_the_format_not_the_name_or_the_content_type(app, client, staff):
    name = stored_name(post_image(client, png(mode="RGB"), "holiday.jpg", "image/jpeg"))
    assert name.endswith(".png")
    assert stored_image(app, name)[1].format == "PNG"


def test_each_upload_gets_a_random_name_and_leaves_no_temporary_file(app, client, staff):
    first = stored_name(post_image(client, png()))
    second = stored_name(post_image(client, png()))
    assert first != second
    assert [p.name for p in stored_files(app)] == sorted([first, second])


def test_the_url_answered_survives_the_sanitiser(app, client, staff):
    url = post_image(client, jpeg()).get_json()["url"]
    assert sanitize(f'<p><img src="{url}" alt="x"></p>') == f'<p><img src="{url}" alt="x"></p>'


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"just some text, honestly a picture\n" * 20, "picture.png", "image/png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "x.png", "image/png"),
        (b"<html><script>alert(1)</script></html>", "x.jpg", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "broken.png", "image/png"),
    ],
    ids=["text-renamed-png", "svg-renamed-png", "html-renamed-jpg", "png-signature-only"],
)
def test_what_is_not_an_image_is_refused(app, client, staff, data, filename, content_type):
    message = refused(post_image(client, data, filename, content_type), 400, "invalid_image")
    assert "JPEG, PNG or WebP" in message
    assert stored_files(app) == []


def test_a_gif_is_refused(app, client, staff):
    refused(post_image(client, gif(), "a.gif", "image/gif"), 400, "invalid_image")
    assert stored_files(app) == []


def test_a_truncated_image_is_refused(app, client, staff):
    whole = encoded(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    refused(post_image(client, whole[: len(whole) // 2]), 400, "invalid_image")
    assert stored_files(app) == []


def test_a_request_without_an_image_is_refused(app, client, staff):
    refused(client.post(UPLOAD, data={}), 400, "no_image")
    refused(post_image(client, b""), 400, "no_image")


def test_an_image_over_the_byte_limit_is_refused(app_with):
    with app_with(UPLOAD_MAX_BYTES=4096) as app:
        client = app.test_client()
        sign_in(client, UserFactory(is_staff=True))
        client.set_cookie("lang", "en")
        noisy = encoded(Image.effect_noise((80, 80), 80).convert("RGB"), "PNG")
        assert 4096 < len(noisy) < 4096 + 60_000
        message = refused(post_image(client, noisy), 400, "image_too_large")
        assert "at most 4 KB" in message
        assert stored_files(app) == []


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(app_with):
    with app_with(UPLOAD_MAX_BYTES=4096, WTF_CSRF_ENABLED=True) as app:
        client = app.test_client()
        sign_in(client, UserFactory(is_staff=True))
        # 413 even before the CSRF check reads the form: the body is not parsed at all.
        response = post_image(client, b"\0" * 200_000)
        refused(response, 413, "image_too_large")
        assert stored_files(app) == []


@pytest.mark.parametrize(
    "size",
    [(6000, 6000), (10_000, 10_000), (100_000, 100_000), (1, 2**31 - 1)],
    ids=["36M-pixels", "100M-pixels", "10G-pixels", "2G-pixels-one-wide"],
)
def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(
    app, client, staff, monkeypatch, size
):
    decoded = []
    load = ImageFile.ImageFile.load

    def recording_load(image):
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    stored_name(post_image(client, png()))
    assert decoded, "the recorder sees a real image being decoded"
    decoded.clear()

    bomb = png_declaring(*size)
    assert len(bomb) < 1000
    message = refused(post_image(client, bomb), 400, "image_too_many_pixels")
    assert "25 million pixels" in message
    assert decoded == []
    assert len(stored_files(app)) == 1


def test_the_pixel_limit_comes_from_the_configuration(app_with):
    with app_with(UPLOAD_MAX_PIXELS=100) as app:
        client = app.test_client()
        sign_in(client, UserFactory(is_staff=True))
        refused(post_image(client, png(size=(11, 10))), 400, "image_too_many_pixels")
        stored_name(post_image(client, png(size=(10, 10))))


# --- who may upload -----------------------------------------------------------------------------


def test_an_anonymous_visitor_gets_401(app, client):
    refused(post_image(client, png()), 401, "unauthorized")
    assert stored_files(app) == []


def test_a_student_gets_403(app, client):
    sign_in(client, UserFactory(is_staff=False))
    refused(post_image(client, png()), 403, "forbidden")
    assert stored_files(app) == []


def test_staff_upload_and_get_the_url(app, client, staff):
    response = post_image(client, png())
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"url"}


@pytest.fixture
def csrf_app(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        yield app


def test_an_upload_without_the_csrf_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    sign_in(client, UserFactory(is_staff=True))
    refused(post_image(client, png()), 400, "csrf_invalid")
    refused(post_image(client, png(), headers={"X-CSRFToken": "forged"}), 400, "csrf_invalid")
    assert stored_files(csrf_app) == []


def test_an_upload_with_the_csrf_token_in_the_header_is_stored(csrf_app):
    client = csrf_app.test_client()
    sign_in(client, UserFactory(is_staff=True))
    page = html(client.get("/account"))
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    stored_name(post_image(client, png(), headers={"X-CSRFToken": token}))


# --- serving them back --------------------------------------------------------------------------


def test_a_stored_image_is_served_with_its_type_nosniff_and_a_long_cache(app, client, staff):
    for data, mimetype in ((png(), "image/png"), (jpeg(), "image/jpeg"), (webp(), "image/webp")):
        url = post_image(client, data).get_json()["url"]
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == mimetype
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.cache_control.max_age == 365 * 24 * 3600
        assert response.cache_control.public
        assert "immutable" in response.headers["Cache-Control"]
        name = url.removeprefix("/uploads/")
        assert response.data == (Path(app.config["UPLOAD_FOLDER"]) / name).read_bytes()


def test_anyone_may_see_a_stored_image(app, client, staff):
    url = post_image(client, png()).get_json()["url"]
    assert app.test_client().get(url).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/..%2F..%2Fconfig.py",
        "/uploads/../../config.py",
        "/uploads/%2e%2e%2fsecret_key.png",
        "/uploads/notes.txt",
        "/uploads/.upload-abc.part",
        "/uploads/missing_but_well_formed.png",
        "/uploads/x.svg",
        "/uploads/",
    ],
)
def test_anything_but_a_stored_name_is_404(app, client, path):
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("private")
    (folder / "x.svg").write_text("<svg onload='alert(1)'/>")
    (folder / ".upload-abc.part").write_bytes(png())
    assert client.get(path).status_code == 404
