"""Images staff upload for rich text: only real JPEG, PNG or WebP, re-encoded, under random names.

`save_image(file)` lets Pillow decide what the file is (never its name or the client's content
type), refuses more than `UPLOAD_MAX_BYTES` bytes or `UPLOAD_MAX_PIXELS` pixels (the pixels are
read from the header, before anything is decoded, so a decompression bomb costs nothing),
decodes it, and stores a fresh encoding of the pixels in the same format: EXIF, ICC profiles,
comments and anything appended after the image are gone. The stored name is random
(`secrets`), with the format's extension, and is written through a temporary file and a rename,
so a reader never sees half an image. app/blueprints/media serves it at /uploads/<name>.

Refusals are `InvalidInput` with the slug `no_image` (nothing, or an empty file),
`invalid_image` (not a JPEG, PNG or WebP that decodes), `image_too_large` (bytes) or
`image_too_many_pixels`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import IO, Protocol

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app.services.errors import N_, InvalidInput

# Pillow's format name -> the stored file's extension and the type it is served with.
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
MIMETYPES = dict(FORMATS.values())
# What save_image names files; anything else is not ours (app/richtext.py agrees).
STORED_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.(?:jpg|png|webp)")
# Modes each format stores as they are; others are converted (see _encodable).
KEPT_MODES = {
    "JPEG": {"L", "RGB"},
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
}


class Upload(Protocol):
    """What save_image reads: a werkzeug FileStorage, or anything with a `stream`."""

    stream: IO[bytes]


def _refuse(message: str, slug: str = "invalid_image") -> InvalidInput:
    return InvalidInput(message, slug=slug, fields={"image": message})


def _not_an_image() -> InvalidInput:
    return _refuse(N_("The file is not a JPEG, PNG or WebP image."))


def is_stored_name(name: str) -> bool:
    return STORED_NAME.fullmatch(name) is not None


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def read_bounded(upload: Upload | None, max_bytes: int) -> bytes:
    """The upload's bytes; refused when missing, empty or larger than `max_bytes`."""
    if upload is None or getattr(upload, "stream", None) is None:
        raise _refuse(N_("Choose an image to upload."), "no_image")
    data = upload.stream.read(max_bytes + 1)
    if not data:
        raise _refuse(N_("The file is empty."), "no_image")
    if len(data) > max_bytes:
        raise _refuse(
            f"The image is larger than {max_bytes / (1024 * 1024):g} MB.", "image_too_large"
        )
    return data


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """The decoded image, after its header has shown it is an allowed format of allowed size."""
    try:
        # Only these decoders are ever tried: a GIF, a TIFF or an SVG is refused at the header.
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _not_an_image() from None
    width, height = image.size
    if width < 1 or height < 1:
        raise _not_an_image()
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    try:
        image.load()  # decodes now, inside the bounds just checked; a truncated file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise _not_an_image() from None
    return image


def _too_many_pixels(max_pixels: int) -> InvalidInput:
    return _refuse(
        f"The image has more than {max_pixels / 1_000_000:g} million pixels.",
        "image_too_many_pixels",
    )


def _encodable(image: Image.Image, fmt: str) -> tuple[Image.Image, dict]:
    """The image in a mode `fmt` stores, upright, with no metadata; and the encoder's options."""
    transparency = image.info.get("transparency")
    image = ImageOps.exif_transpose(image)  # the EXIF orientation goes, so apply it first
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or transparency is not None
    options: dict = {}
    if image.mode not in KEPT_MODES[fmt]:
        keep_alpha = has_alpha and fmt != "JPEG"
        image = image.convert("RGBA" if keep_alpha else "RGB")
    elif image.mode in {"P", "L", "RGB"} and transparency is not None and fmt == "PNG":
        options["transparency"] = transparency
    image.info = {}  # nothing from the upload's metadata reaches the encoder
    if fmt == "JPEG":
        options.update(quality=88, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=88, method=4)
    else:
        options.update(optimize=True)
    return image, options


def reencode(image: Image.Image) -> tuple[bytes, str]:
    """The image's pixels encoded afresh in its own format, and that format's name."""
    fmt = image.format or ""
    if fmt not in FORMATS:
        raise _not_an_image()
    clean, options = _encodable(image, fmt)
    out = io.BytesIO()
    try:
        clean.save(out, format=fmt, **options)
    except (OSError, ValueError) as exc:
        raise _refuse(
            N_("The image could not be stored; try saving it again as PNG or JPEG.")
        ) from exc
    return out.getvalue(), fmt


def store(data: bytes, extension: str, folder: Path) -> str:
    """Write `data` under a fresh random name in `folder`; a temporary file and a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(16)}.{extension}"
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, 0o644)  # a web server in front may serve the folder itself
        os.replace(temporary, folder / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return name


def save_image(upload: Upload | None) -> str:
    """Check, re-encode and store an uploaded image; its stored name (see STORED_NAME)."""
    config = current_app.config
    data = read_bounded(upload, config["UPLOAD_MAX_BYTES"])
    image = open_image(data, config["UPLOAD_MAX_PIXELS"])
    try:
        encoded, fmt = reencode(image)
    finally:
        image.close()
    return store(encoded, FORMATS[fmt][0], upload_folder())
