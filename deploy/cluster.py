"""The store's production topology on one machine, on ports of its own (DESIGN.md, "Scale").

    deploy/cluster up      # prints READY http://127.0.0.1:<nginx port> on its last line
    deploy/cluster down    # stops everything it started, by pid

nginx (Debian's) in front of two gunicorn app servers; two RQ workers; a MariaDB primary with
a replica (binlog replication, data dirs made by mariadb-install-db); Redis with a replica and
three Sentinels. Everything lives under CLUSTER_DIR (default: a folder in the temp dir), and
`state.json` there names every process, its pid and its ports, for `down` and for the fault
test. The app runs with DATABASE_REPLICA_URL and REDIS_SENTINELS, as in production.

Ports (override with the environment): CLUSTER_HTTP_PORT (5180; app servers on the next two),
CLUSTER_DB_PORT (3450; the replica on the next), CLUSTER_REDIS_PORT (6450; the replica on the
next), CLUSTER_SENTINEL_PORT (26450; three from there); CLUSTER_APP_WORKERS, each app server's
gunicorn workers (2). Settings passed to the app as they are:
CAPTCHA_ENABLED, RATELIMIT_ENABLED, ORDER_PAYMENT_TIMEOUT_MINUTES, the workers' timings
WORKER_TTL, WORKER_JOB_MONITORING, WORKER_HEARTBEAT_GRACE, WORKER_MAINTENANCE (worker.py), and
DEMO_MEDIA_CACHE (the seed's encoded lessons, kept between clusters).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "luffy-cluster"
MASTER_NAME = "luffy"
DB_NAME = "luffy"
DB_USER, DB_PASSWORD = "luffy", "luffy-cluster"
REPL_USER, REPL_PASSWORD = "repl", "repl-cluster"
APT_PACKAGES = ("nginx", "mariadb-server", "redis-server")
# How long an app server keeps an idle connection from nginx (gunicorn's --keep-alive, seconds):
# longer than nginx keeps it (the upstream's keepalive_timeout in deploy/nginx.conf), so that
# closing one is always nginx's doing. Gunicorn's default (2 s) raced nginx: a connection closed
# by gunicorn just as nginx sent a POST on it was a 502, and a POST is never sent again.
APP_KEEP_ALIVE_SECONDS = 75
# Settings of the app and its workers taken from the environment as they are.
PASSED = (
    "CAPTCHA_ENABLED",
    "RATELIMIT_ENABLED",
    "ORDER_PAYMENT_TIMEOUT_MINUTES",
    "WORKER_TTL",
    "WORKER_JOB_MONITORING",
    "WORKER_HEARTBEAT_GRACE",
    "WORKER_MAINTENANCE",
    "DEMO_MEDIA_CACHE",
)


def say(*words: object) -> None:
    print(*words, flush=True)


def port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.logs = base / "logs"
        self.state_file = base / "state.json"
        http = port("CLUSTER_HTTP_PORT", 5180)
        db = port("CLUSTER_DB_PORT", 3450)
        rds = port("CLUSTER_REDIS_PORT", 6450)
        sentinel = port("CLUSTER_SENTINEL_PORT", 26450)
        self.ports = {
            "nginx": http,
            "app1": http + 1,
            "app2": http + 2,
            "db_primary": db,
            "db_replica": db + 1,
            "redis_master": rds,
            "redis_replica": rds + 1,
            "sentinels": [sentinel, sentinel + 1, sentinel + 2],
        }
        self.processes: dict[str, dict] = {}

    # --- state ----------------------------------------------------------------------------------

    def save(self) -> None:
        state = {
            "base": str(self.base),
            "ports": self.ports,
            "processes": self.processes,
            "env": self.app_env(),
            "url": f"http://127.0.0.1:{self.ports['nginx']}",
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    def spawn(self, name: str, argv: list[str], env: dict | None = None, **extra) -> int:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(  # noqa: S603
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
            start_new_session=True,  # its own process group: `down` stops it and its children
        )
        self.processes[name] = {"pid": process.pid, "argv": argv, **extra}
        self.save()
        return process.pid

    # --- MariaDB --------------------------------------------------------------------------------

    def install_mariadb(self, *names: str) -> None:
        """A data dir for each server that has none, made side by side: each with a temp dir of
        its own, where two bootstraps sharing one crash now and then (signal 11 dropping an Aria
        temp table, MariaDB 10.11)."""
        made = []
        for name in names:
            data = self.base / name
            if (data / "mysql").exists():
                continue
            made.append(
                subprocess.Popen(  # noqa: S603
                    [
                        shutil.which("mariadb-install-db") or "mariadb-install-db",
                        "--no-defaults",
                        f"--datadir={data}",
                        f"--tmpdir={self.tmpdir(name)}",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                        *(["--user=root"] if os.geteuid() == 0 else []),
                    ],
                    stdout=open(self.logs / f"{name}-install.log", "ab"),  # noqa: SIM115
                    stderr=subprocess.STDOUT,
                )
            )
        for process in made:
            if process.wait() != 0:
                raise subprocess.CalledProcessError(process.returncode, process.args)

    def tmpdir(self, name: str) -> Path:
        folder = self.base / f"{name}-tmp"
        folder.mkdir(exist_ok=True)
        return folder

    def mariadb(self, name: str, server_id: int, replica: bool) -> None:
        """Started; `ready()` waits for it to answer."""
        data = self.base / name
        argv = [
            shutil.which("mariadbd") or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            f"--tmpdir={self.tmpdir(name)}",
            f"--port={self.ports[name]}",
            "--bind-address=127.0.0.1",
            f"--socket={data}/mysqld.sock",
            f"--pid-file={data}/mysqld.pid",
            f"--server-id={server_id}",
            "--log-bin=binlog",
            "--binlog-format=ROW",
            "--log-slave-updates=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=1",
            "--skip-name-resolve=0",
            *(["--read-only=1"] if replica else []),
            *(["--user=root"] if os.geteuid() == 0 else []),
        ]
        self.spawn(name, argv, port=self.ports[name], socket=f"{data}/mysqld.sock")

    def ready(self, *names: str) -> None:
        """Waits until each of these servers (MariaDB, Redis or Sentinel) answers."""
        for name in names:
            if "socket" in self.processes[name]:
                wait_for(lambda name=name: self.sql(name, "SELECT 1"), f"MariaDB {name}", 60)
            else:
                server_port = self.processes[name]["port"]
                wait_for(lambda p=server_port: redis_ping(p), name, 20)

    def sql(self, name: str, *statements: str) -> list:
        import pymysql

        conn = pymysql.connect(
            unix_socket=self.processes[name]["socket"], user="root", connect_timeout=2
        )
        rows: list = []
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                rows = list(cur.fetchall())
            conn.commit()
        return rows

    def replicate(self) -> None:
        self.sql(
            "db_primary",
            f"CREATE USER IF NOT EXISTS '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}'",
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%'",
        )
        self.sql(
            "db_replica",
            "STOP SLAVE",
            "RESET SLAVE ALL",
            "SET GLOBAL gtid_slave_pos = ''",
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.ports['db_primary']}, "
            f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', "
            "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            "START SLAVE",
        )
        # Made on the primary, replicated to the replica like everything after it.
        self.sql(
            "db_primary",
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}'",
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'%'",
            f"GRANT SLAVE MONITOR ON *.* TO '{DB_USER}'@'%'",
        )

        def caught_up() -> bool:
            rows = self.sql("db_replica", f"SHOW DATABASES LIKE '{DB_NAME}'")
            return bool(rows)

        wait_for(caught_up, "the replica to follow the primary", 60)

    # --- Redis ----------------------------------------------------------------------------------

    def redis(self, name: str, replica_of: int | None = None) -> None:
        data = self.base / name
        data.mkdir(exist_ok=True)
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.ports[name]),
            "--bind", "127.0.0.1",
            "--dir", str(data),
            "--save", "",
            "--appendonly", "yes",  # a restarted node keeps what it had
            "--appendfsync", "everysec",
        ]  # fmt: skip
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.spawn(name, argv, port=self.ports[name])

    def sentinel(self, index: int) -> None:
        name = f"sentinel{index + 1}"
        sentinel_port = self.ports["sentinels"][index]
        conf = self.base / f"{name}.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {sentinel_port}",
                    "bind 127.0.0.1",
                    f"dir {self.base}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.ports['redis_master']} 2",
                    f"sentinel down-after-milliseconds {MASTER_NAME} 2000",
                    f"sentinel failover-timeout {MASTER_NAME} 10000",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )
        self.spawn(
            name,
            [shutil.which("redis-server") or "redis-server", str(conf), "--sentinel"],
            port=sentinel_port,
        )

    # --- the app --------------------------------------------------------------------------------

    def app_env(self) -> dict[str, str]:
        p = self.ports
        db_url = "mysql+pymysql://{u}:{pw}@127.0.0.1:{port}/{db}?charset=utf8mb4"
        env = {
            "APP_ENV": "development",  # production refuses the sandbox gateway this demo pays with
            "SECRET_KEY": "luffy-cluster-secret-key-for-this-machine-only",
            "DATABASE_URL": db_url.format(
                u=DB_USER, pw=DB_PASSWORD, port=p["db_primary"], db=DB_NAME
            ),
            "DATABASE_REPLICA_URL": db_url.format(
                u=DB_USER, pw=DB_PASSWORD, port=p["db_replica"], db=DB_NAME
            ),
            "REDIS_URL": f"redis://127.0.0.1:{p['redis_master']}/0",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s}" for s in p["sentinels"]),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{p['nginx']}",
            "PROXY_FIX_X_FOR": "1",
            "PAYMENT_SANDBOX": "1",
            "INSTANCE_DIR": str(self.base / "instance"),
            "STATIC_INDEX_DIR": str(self.base / "generated"),
            "UPLOAD_FOLDER": str(self.base / "uploads"),
            "MEDIA_FOLDER": str(self.base / "media"),
            "MEDIA_ACCEL_REDIRECT": "/_protected_media/",
            "DB_CONNECT_TIMEOUT": "5",
            "DB_READ_TIMEOUT": "15",
            "PYTHONUNBUFFERED": "1",
        }
        for passed in PASSED:
            if os.environ.get(passed):
                env[passed] = os.environ[passed]
        return env

    def flask(self, *args: str) -> None:
        subprocess.run(  # noqa: S603
            [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
            check=True,
            cwd=REPO,
            env={**os.environ, **self.app_env()},
            stdout=open(self.logs / "setup.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )

    def app_server(self, name: str) -> None:
        self.spawn(
            name,
            [
                str(VENV_BIN / "gunicorn"),
                "--no-control-socket",
                # Threads: a worker tells the arbiter it is alive while one of them streams a
                # long answer (a staff CSV of a million orders, ~1 min), which a sync worker
                # cannot: --timeout would cut the download at 30 s.
                "--worker-class",
                "gthread",
                "--workers",
                os.environ.get("CLUSTER_APP_WORKERS") or "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.ports[name]}",
                "--timeout",
                "30",
                "--keep-alive",
                str(APP_KEEP_ALIVE_SECONDS),
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            env=self.app_env(),
            port=self.ports[name],
        )

    def worker(self, name: str) -> None:
        # Started again when it exits, as systemd's Restart=always would: an RQ worker quits
        # when Redis stops answering for a while (a failover), and must come back by itself.
        loop = f"while :; do {VENV_BIN / 'python'} worker.py; sleep 1; done"
        self.spawn(name, ["/bin/bash", "-c", loop], env=self.app_env())

    # --- nginx ----------------------------------------------------------------------------------

    def nginx(self) -> None:
        conf = self.base / "nginx.conf"
        template = (REPO / "deploy" / "nginx.conf").read_text()
        values = {
            "BASE": str(self.base),
            "USER": "user root;" if os.geteuid() == 0 else "",
            "LISTEN": f"127.0.0.1:{self.ports['nginx']}",
            "APP_SERVERS": "\n".join(
                f"    server 127.0.0.1:{self.ports[n]} max_fails=1 fail_timeout=5s;"
                for n in ("app1", "app2")
            ),
            "STATIC_DIR": str(REPO / "app" / "static"),
            "STATIC_INDEX_DIR": str(self.base / "generated"),
            "MEDIA_FOLDER": str(self.base / "media"),
            "MIME_TYPES": "/etc/nginx/mime.types",
            "SECURITY_HEADERS": str(REPO / "deploy" / "security-headers.conf"),
        }
        for key, value in values.items():
            template = template.replace("{{" + key + "}}", value)
        conf.write_text(template)
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.base / "nginx-tmp" / folder).mkdir(parents=True, exist_ok=True)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(self.base)], check=True)  # noqa: S603
        self.spawn(
            "nginx", [nginx, "-c", str(conf), "-p", str(self.base)], port=self.ports["nginx"]
        )

    # --- up and down ----------------------------------------------------------------------------

    def up(self) -> str:
        self.base.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        for folder in ("instance", "generated", "uploads", "media"):
            (self.base / folder).mkdir(exist_ok=True)
        self.processes = {}
        say(f"cluster in {self.base}")
        # Every server started at once, then waited for.
        self.install_mariadb("db_primary", "db_replica")
        self.mariadb("db_primary", 1, replica=False)
        self.mariadb("db_replica", 2, replica=True)
        self.redis("redis_master")
        self.redis("redis_replica", replica_of=self.ports["redis_master"])
        for index in range(3):
            self.sentinel(index)
        self.ready("db_primary", "db_replica")
        self.replicate()
        say("MariaDB primary and replica: replicating")
        self.ready("redis_master", "redis_replica", "sentinel1", "sentinel2", "sentinel3")
        say("Redis master, replica and three Sentinels: up")
        self.flask("db", "upgrade")
        self.flask("seed-demo")
        say("migrated and seeded")
        self.app_server("app1")
        self.app_server("app2")
        self.worker("worker1")
        self.worker("worker2")
        self.nginx()
        for name in ("app1", "app2"):
            url = f"http://127.0.0.1:{self.ports[name]}/healthz"
            wait_for(lambda url=url: http_ok(url), f"app server {name}", 60)
        url = f"http://127.0.0.1:{self.ports['nginx']}"
        wait_for(lambda: http_ok(f"{url}/healthz"), "nginx", 20)
        self.save()
        return url

    def down(self) -> None:
        if not self.state_file.exists():
            say(f"nothing to stop ({self.state_file} is missing)")
            return
        state = json.loads(self.state_file.read_text())
        # The front (nginx, app servers, workers) at once, then the servers behind it at once.
        front = ("nginx", "app", "worker")
        processes = [(process["pid"], name) for name, process in state["processes"].items()]
        stop(*[(pid, name) for pid, name in processes if name.startswith(front)])
        stop(*[(pid, name) for pid, name in processes if not name.startswith(front)])
        self.state_file.unlink()
        say("stopped")


def stop(*processes: tuple[int, str], wait: float = 10.0) -> None:
    """SIGCONT (a frozen one) and SIGTERM to each (pid, name)'s process group, SIGKILL to those
    still running `wait` seconds later."""
    for pid, _name in processes:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
    deadline = time.monotonic() + wait
    running = list(processes)
    while running and time.monotonic() < deadline:
        running = [(pid, name) for pid, name in running if alive(pid)]
        if running:
            time.sleep(0.1)
    for pid, name in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        say(f"{name} ({pid}) killed after {wait:.0f} s")


def alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    return True


def wait_for(check, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting for {what} after {seconds:.0f} s ({last})")


def redis_ping(redis_port: int) -> bool:
    with socket.create_connection(("127.0.0.1", redis_port), timeout=1) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64).startswith(b"+PONG")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback only
        return response.status == 200


def install_packages() -> None:
    """Debian's packages the cluster runs, when missing (CI installs them in .ci/run)."""
    missing = [
        package
        for package, binary in zip(APT_PACKAGES, ("nginx", "mariadbd", "redis-server"), strict=True)
        if not (shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists())
    ]
    if missing:
        say(f"installing {' '.join(missing)}")
        subprocess.run(["apt-get", "update", "-q"], check=True)  # noqa: S607
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True)  # noqa: S603,S607


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in {"up", "down"}:
        print(__doc__, file=sys.stderr)
        return 2
    cluster = Cluster(Path(os.environ.get("CLUSTER_DIR") or DEFAULT_DIR))
    if argv[1] == "down":
        cluster.down()
        return 0
    if cluster.state_file.exists():
        say("a cluster is already running here: stopping it first")
        cluster.down()
    install_packages()
    try:
        url = cluster.up()
    except BaseException:
        say(f"start failed: see {cluster.logs}; stopping what was started")
        cluster.down()
        raise
    say(f"READY {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
