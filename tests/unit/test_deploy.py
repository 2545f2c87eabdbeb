"""The deployment's timeouts fit together (deploy/nginx.conf, deploy/cluster.py, config.py)."""

from __future__ import annotations

import re

from config import load_config
from tests.cluster import DEPLOY, load_cluster_module

NGINX = (DEPLOY / "nginx.conf").read_text()


def nginx_seconds(directive: str) -> int:
    [value] = re.findall(rf"^\s*{directive}\s+(\d+)s;", NGINX, flags=re.MULTILINE)
    return int(value)


def test_nginx_closes_idle_app_connections_before_the_app_servers_do():
    # Otherwise an app server may close one as nginx sends a POST on it: a 502.
    assert nginx_seconds("keepalive_timeout") < load_cluster_module().APP_KEEP_ALIVE_SECONDS


def test_nginx_waits_for_an_answer_longer_than_the_app_waits_for_its_database():
    # A frozen database is then the app's 503, not the proxy's 504.
    read_timeout = load_config("development", environ={})["DB_READ_TIMEOUT"]
    assert nginx_seconds("proxy_read_timeout") > read_timeout
