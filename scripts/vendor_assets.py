"""Copy third-party front-end assets from node_modules/ into app/static/vendor/ (checked in).

Run `npm install` first, then `python scripts/vendor_assets.py`; `--check` only reports whether
the checked-in copies match node_modules/ (exit status 1 when they do not). The source-map
comment is dropped from each file: the maps are not shipped, and browsers would ask for them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "app" / "static" / "vendor"

# package -> [(file inside the package, file inside app/static/vendor/<package>/)]
ASSETS: dict[str, list[tuple[str, str]]] = {
    "bootstrap": [
        ("dist/css/bootstrap.min.css", "bootstrap.min.css"),
        ("dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"),
        ("LICENSE", "LICENSE"),
    ],
    # The bot check's widget. Its "external" build injects no <style> and bundles no blob:
    # workers, so that a strict Content-Security-Policy holds: the styles come as a file, the
    # proof-of-work workers as files that app/static/js/bot-check.js registers. Version 3
    # understands the v2 challenges ({parameters, signature}) the Python altcha 2.x makes.
    "altcha": [
        ("dist/external/altcha.min.js", "altcha.min.js"),
        ("dist/external/altcha.css", "altcha.css"),
        ("dist/workers/pbkdf2.js", "workers/pbkdf2.js"),
        ("dist/workers/sha.js", "workers/sha.js"),
        ("dist/i18n/zh-cn.js", "i18n/zh-cn.js"),
        ("LICENSE.txt", "LICENSE"),
    ],
    # The admin dashboard's charts (revenue and orders per day).
    "chart.js": [
        ("dist/chart.umd.min.js", "chart.umd.min.js"),
        ("LICENSE.md", "LICENSE"),
    ],
    # The rich-text editor of the admin's course descriptions (the HTML it makes is sanitised
    # with nh3 on the server before it is stored).
    # The lesson player. Its icons come from the vendored sprite (app/static/js/lesson.js sets
    # iconUrl and blankVideo to our own files: Plyr's defaults are on its CDN).
    "plyr": [
        ("dist/plyr.min.js", "plyr.min.js"),
        ("dist/plyr.css", "plyr.css"),
        ("dist/plyr.svg", "plyr.svg"),
        ("LICENSE.md", "LICENSE"),
    ],
    "quill": [
        ("dist/quill.js", "quill.js"),
        ("dist/quill.snow.css", "quill.snow.css"),
        ("LICENSE", "LICENSE"),
    ],
}

SOURCE_MAP = re.compile(rb"\n?/[*/]# sourceMappingURL=[^\n]*?(?:\*/)?\s*$")


def vendored_bytes(source: Path) -> bytes:
    data = source.read_bytes()
    if source.suffix in (".css", ".js"):
        data = SOURCE_MAP.sub(b"\n", data)
    return data


def package_version(package: str) -> str:
    return json.loads((NODE_MODULES / package / "package.json").read_text())["version"]


def planned() -> dict[Path, bytes]:
    """Every file to write under app/static/vendor/, with its content."""
    files: dict[Path, bytes] = {}
    for package, assets in ASSETS.items():
        if not (NODE_MODULES / package).is_dir():
            sys.exit(f"node_modules/{package} is missing: run `npm install` first")
        for inside, target in assets:
            files[VENDOR / package / target] = vendored_bytes(NODE_MODULES / package / inside)
        files[VENDOR / package / "VERSION"] = f"{package_version(package)}\n".encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)

    stale = []
    for path, data in planned().items():
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for path in stale:
        verb = "differs" if args.check else "wrote"
        print(f"{verb}: {path.relative_to(ROOT)}")
    if args.check and stale:
        return 1
    if not stale:
        print("app/static/vendor/ is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
