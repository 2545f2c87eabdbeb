"""The production topology on this machine (deploy/cluster), broken one part after another."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load_cluster_module():
    """deploy/cluster.py, imported as the module `cluster` (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("cluster", DEPLOY / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
