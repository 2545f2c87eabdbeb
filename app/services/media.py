"""Lesson media: files in MEDIA_FOLDER, probed with PyAV, and the signed URLs that serve them.

Files. A lesson video is stored under a name the app chooses (`<random>.mp4` / `.webm`), never
the uploader's, written through a temporary file and a rename. `store_video(stream)` copies
an upload to disk in chunks (never the whole file in memory) up to MEDIA_MAX_BYTES, and keeps
it only when PyAV finds a video stream in a container we serve (MP4 or WebM); its duration,
in whole seconds, becomes the section's. Replacing a section's file stores a new name: URLs
already handed out name the old file and go on working until they expire; `prune_media`
removes files no section names once they are older than the URL lifetime.

URLs. `/media/<token>`: the token is signed with the app's secret (itsdangerous) and says
which section, which file, for whom (`u:<user id>`, or `v:<visitor id>` for a visitor whose
browser holds that id in the `lesson_visitor` cookie) and until when. Whoever presents it must
be that student (their session or API token) or hold that visitor cookie, and may still study
the section: a refund ends the URL at once (the enrollment check is cached for
ACCESS_CACHE_SECONDS and the cache of a (student, course) is dropped after any commit that
derived their enrollment again).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import IO

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.services.errors import N_, Forbidden, InvalidInput

# What store_video names files; anything else is not ours.
MEDIA_NAME = re.compile(r"[A-Za-z0-9_-]{16,64}\.(?:mp4|webm)")
CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}
# PyAV's container names -> our extension.
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm"}
CHUNK = 1024 * 1024
ACCESS_CACHE_SECONDS = 20
VISITOR_COOKIE = "lesson_visitor"
VISITOR_ID = re.compile(r"[0-9a-f]{32}")
_SALT = "lesson-media"


def media_folder() -> Path:
    return Path(current_app.config["MEDIA_FOLDER"])


def is_media_name(name: str | None) -> bool:
    return bool(name) and MEDIA_NAME.fullmatch(name) is not None


def content_type_of(name: str) -> str:
    return CONTENT_TYPES[name.rsplit(".", 1)[1]]


def media_path(name: str) -> Path | None:
    """The stored file of that name, or None (not one of ours, or gone)."""
    if not is_media_name(name):
        return None
    path = media_folder() / name
    return path if path.is_file() else None


# --- probing and storing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    extension: str  # mp4 | webm
    duration_s: int
    width: int
    height: int


def _not_a_video() -> InvalidInput:
    message = N_("The file is not an MP4 or WebM video.")
    return InvalidInput(message, slug="invalid_video", fields={"media": message})


def probe(path: Path) -> Probe:
    """What the file really is, read by PyAV (never its name or the client's content type).
    InvalidInput `invalid_video` unless it is an MP4 or WebM with a video stream."""
    import av

    try:
        with av.open(str(path)) as container:
            extension = CONTAINERS.get(container.format.name)
            video = next(iter(container.streams.video), None)
            if extension is None or video is None:
                raise _not_a_video()
            duration = None
            if container.duration is not None:
                duration = Fraction(container.duration, av.time_base)
            elif video.duration is not None and video.time_base is not None:
                duration = video.duration * video.time_base
            if duration is None or duration <= 0:
                raise _not_a_video()
            return Probe(extension, round(duration), video.width, video.height)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _not_a_video() from exc


def new_media_name(extension: str) -> str:
    return f"{secrets.token_urlsafe(18)}.{extension}"


def store_video(stream: IO[bytes], max_bytes: int | None = None) -> tuple[str, Probe]:
    """Copy an upload to MEDIA_FOLDER in chunks, at most `max_bytes` (MEDIA_MAX_BYTES), probe
    it, and keep it under a new name. Returns (stored name, probe). InvalidInput
    `no_video`, `video_too_large` or `invalid_video` (field `media`); nothing is kept then."""
    max_bytes = max_bytes or current_app.config["MEDIA_MAX_BYTES"]
    folder = media_folder()
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    kept = False
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    message = N_("The video is larger than the largest upload allowed.")
                    raise InvalidInput(
                        message,
                        slug="video_too_large",
                        fields={"media": message},
                        data={"max_bytes": max_bytes},
                    )
                out.write(chunk)
        if size == 0:
            message = N_("Choose a video file to upload.")
            raise InvalidInput(message, slug="no_video", fields={"media": message})
        found = probe(Path(temporary))
        name = new_media_name(found.extension)
        os.replace(temporary, folder / name)
        kept = True
        return name, found
    finally:
        if not kept:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def store_file(path: Path) -> tuple[str, Probe]:
    """Store a file already on disk (the demo's generated lessons) the same way."""
    with path.open("rb") as source:
        return store_video(source, max_bytes=path.stat().st_size or 1)


def prune_media(referenced: set[str], now: datetime) -> list[str]:
    """Delete stored files no section names any more once older than the URL lifetime (a URL
    handed out before the file was replaced may still be playing until then)."""
    ttl = current_app.config["MEDIA_URL_TTL_SECONDS"]
    removed = []
    for path in media_folder().iterdir():
        if not is_media_name(path.name) or path.name in referenced:
            continue
        age = now.timestamp() - path.stat().st_mtime
        if age > ttl:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def copy_into(source: Path, name: str) -> None:
    """Write `source` as the stored file `name` (through a temporary file and a rename)."""
    folder = media_folder()
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".copy-")
    with os.fdopen(fd, "wb") as out, source.open("rb") as inp:
        shutil.copyfileobj(inp, out, CHUNK)
    os.replace(temporary, folder / name)


# --- signed URLs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaClaim:
    section_id: int
    course_id: int
    file: str
    subject: str  # u:<user id> | v:<visitor id>
    expires_at: datetime

    @property
    def user_id(self) -> int | None:
        kind, _, value = self.subject.partition(":")
        return int(value) if kind == "u" else None

    @property
    def visitor_id(self) -> str | None:
        kind, _, value = self.subject.partition(":")
        return value if kind == "v" else None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def subject_for(user_id: int | None, visitor_id: str | None) -> str:
    if user_id is not None:
        return f"u:{user_id}"
    if visitor_id is None or not VISITOR_ID.fullmatch(visitor_id):
        raise ValueError("a visitor's media URL needs a visitor id")
    return f"v:{visitor_id}"


def new_visitor_id() -> str:
    return secrets.token_hex(16)


def issue_token(
    section_id: int, course_id: int, file: str, subject: str, now: datetime
) -> tuple[str, datetime]:
    """A signed token for `subject` to fetch `file` of the section until now + TTL."""
    ttl = current_app.config["MEDIA_URL_TTL_SECONDS"]
    expires_at = (now + timedelta(seconds=ttl)).replace(microsecond=0)
    token = _serializer().dumps([section_id, course_id, file, subject, int(expires_at.timestamp())])
    return token, expires_at


def read_token(token: str, now: datetime) -> MediaClaim:
    """The claim of a token that is ours, untouched and not expired; Forbidden otherwise."""
    try:
        section_id, course_id, file, subject, expires = _serializer().loads(token)
        claim = MediaClaim(
            int(section_id),
            int(course_id),
            str(file),
            str(subject),
            datetime.fromtimestamp(int(expires), UTC),
        )
    except (BadSignature, ValueError, TypeError) as exc:
        raise Forbidden(N_("This media link is not valid."), slug="forbidden") from exc
    if claim.expires_at <= now:
        raise Forbidden(N_("This media link has expired."), slug="forbidden")
    return claim
