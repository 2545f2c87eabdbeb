"""The test suite (README.md, "Tests")."""

import tempfile
from pathlib import Path

from argon2 import PasswordHasher

# seed-demo's encoded lessons, made once for every test of every run on this machine, the
# cluster test's servers included (their names carry a digest of how they are made).
DEMO_MEDIA_CACHE = Path(tempfile.gettempdir()) / "luffy-test-demo-media"

# The tests' password hasher (tests/conftest.py puts it in the app's place): argon2id still, at
# its least cost. At OWASP's parameters a hash or a check is 25-45 ms of CPU, and the suite signs
# in and registers a few hundred times. Tests marked `real_hasher` keep the app's.
FAST_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
