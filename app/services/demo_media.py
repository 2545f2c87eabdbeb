"""The demo's lesson videos: short, real H.264/AAC MP4 files made with PyAV, no network.

`seed-demo` needs lessons that play. A handful of distinct files (`DEMO_LESSONS`) is encoded
once (about a second each: 640x360, 25 fps, libx264 from PyAV's wheels, a quiet AAC tone),
kept in a cache folder (DEMO_MEDIA_CACHE, default MEDIA_FOLDER/.demo) and copied into
MEDIA_FOLDER under stable names; the demo's video sections share them. Each frame shows the
lesson's title (drawn with Pillow, in Noto Sans CJK when installed) and a running clock, so a
screenshot tells whether the video really plays. One file per section would show the
section's own title but costs 200+ encodes; the lesson page shows the section's title above
the player instead.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from array import array
from fractions import Fraction
from pathlib import Path

from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from app.services import media

WIDTH, HEIGHT, FPS = 640, 360, 25
SAMPLE_RATE = 48_000
# (title on screen, English subtitle, seconds, background colour)
DEMO_LESSONS: tuple[tuple[str, str, int, tuple[int, int, int]], ...] = (
    ("示例课程 · 第一课", "Luffy City demo lesson 1", 10, (24, 64, 120)),
    ("示例课程 · 第二课", "Luffy City demo lesson 2", 12, (28, 96, 72)),
    ("示例课程 · 第三课", "Luffy City demo lesson 3", 8, (112, 48, 88)),
    ("示例课程 · 第四课", "Luffy City demo lesson 4", 14, (120, 72, 24)),
)
# Bumped when the way the files are made changes: their names change with it.
RECIPE = "2"
FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_PATHS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _has_cjk_font() -> bool:
    return any(os.path.exists(path) for path in FONT_PATHS)


def demo_name(index: int) -> str:
    """The stored name of demo lesson `index` (stable: seed-demo finds it again)."""
    title, subtitle, seconds, colour = DEMO_LESSONS[index]
    digest = hashlib.sha256(
        f"{RECIPE}|{title}|{subtitle}|{seconds}|{colour}|{_has_cjk_font()}".encode()
    ).hexdigest()[:12]
    return f"demo-lesson-{index + 1}-{digest}.mp4"


def _frames(title: str, subtitle: str, seconds: int, colour: tuple[int, int, int]):
    """One picture per second (title, subtitle, clock and a progress bar), each shown FPS
    times: the frames change every second, which is all a clock needs."""
    big, small = _font(40), _font(24)
    shown_title = title if _has_cjk_font() else subtitle
    for second in range(seconds):
        image = Image.new("RGB", (WIDTH, HEIGHT), colour)
        draw = ImageDraw.Draw(image)
        draw.text((WIDTH // 2, 120), shown_title, font=big, fill="white", anchor="mm")
        draw.text((WIDTH // 2, 175), subtitle, font=small, fill=(230, 230, 230), anchor="mm")
        draw.text(
            (WIDTH // 2, 240),
            f"00:{second:02d} / 00:{seconds:02d}",
            font=small,
            fill="white",
            anchor="mm",
        )
        done = int((WIDTH - 80) * (second + 1) / seconds)
        draw.rectangle((40, 300, WIDTH - 40, 310), outline="white")
        draw.rectangle((40, 300, 40 + done, 310), fill="white")
        yield image


def encode_lesson(path: Path, title: str, subtitle: str, seconds: int, colour) -> None:
    """Write a real H.264/AAC MP4 of `seconds` to `path` (moov atom first, so a browser
    starts playing before it has the whole file)."""
    import av

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "30", "tune": "stillimage"}
        audio = out.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        pts = 0
        for picture in _frames(title, subtitle, seconds, colour):
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
            for _ in range(FPS):
                frame.pts = pts
                frame.time_base = Fraction(1, FPS)
                pts += 1
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
        # One second of a quiet 480 Hz tone (a whole number of cycles), repeated.
        second = array(
            "f", (0.05 * math.sin(2 * math.pi * 480 * i / SAMPLE_RATE) for i in range(SAMPLE_RATE))
        ).tobytes()
        samples_per_frame = 1024
        total = seconds * SAMPLE_RATE
        for start in range(0, total, samples_per_frame):
            count = min(samples_per_frame, total - start)
            offset = (start % SAMPLE_RATE) * 4
            chunk = (second + second)[offset : offset + count * 4]
            frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
            frame.planes[0].update(chunk)
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            frame.time_base = Fraction(1, SAMPLE_RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))


def _cache_folder() -> Path:
    configured = current_app.config.get("DEMO_MEDIA_CACHE")
    folder = Path(configured) if configured else media.media_folder() / ".demo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ensure_demo_lessons() -> list[tuple[str, int]]:
    """Every demo lesson in MEDIA_FOLDER (encoded once into the cache, then copied), as
    (stored name, duration in seconds) in DEMO_LESSONS' order."""
    made = []
    folder = media.media_folder()
    folder.mkdir(parents=True, exist_ok=True)
    cache = _cache_folder()
    for index, (title, subtitle, seconds, colour) in enumerate(DEMO_LESSONS):
        name = demo_name(index)
        target = folder / name
        if not target.exists():
            cached = cache / name
            if not cached.exists():
                fd, temporary = tempfile.mkstemp(dir=cache, suffix=".mp4")
                os.close(fd)
                try:
                    encode_lesson(Path(temporary), title, subtitle, seconds, colour)
                    os.replace(temporary, cached)
                finally:
                    Path(temporary).unlink(missing_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".demo-")
            os.close(fd)
            shutil.copyfile(cached, temporary)
            os.replace(temporary, target)
        made.append((name, media.probe(target).duration_s))
    return made
