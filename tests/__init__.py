"""The test suite (README.md, "Tests")."""

import tempfile
from pathlib import Path

# seed-demo's encoded lessons, made once for every test of every run on this machine, the
# cluster test's servers included (their names carry a digest of how they are made).
DEMO_MEDIA_CACHE = Path(tempfile.gettempdir()) / "luffy-test-demo-media"
