"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd from Debian's
packages, started in a temporary folder on private ports and a private munge socket, stopped at
the end. Where they are not installed (or not startable as root), its tests skip with one
reason; STATA_TOOLS_REQUIRE_SLURM (set by .ci/run) turns that skip into a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ports import free_port

REQUIRED = "STATA_TOOLS_REQUIRE_SLURM"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")
ABSENT = (
    "needs a local Slurm cluster: slurmctld, slurmd and munged (apt-get install slurm-wlm munge) "
    "and root to start them"
)


@dataclass(frozen=True, slots=True)
class Cluster:
    """What a test needs: the config clients read (SLURM_CONF), the node, its CPUs."""

    conf: Path
    folder: Path
    node: str
    cpus: int
    partition: str = "debug"

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *argv: str) -> str:
        done = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=60)
        return done.stdout


def _missing() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None and not _sbin(name)]


def _sbin(name: str) -> str | None:
    for folder in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _which(name: str) -> str:
    return shutil.which(name) or _sbin(name) or name


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRED):
        pytest.fail(f"{REQUIRED} is set but the Slurm cluster cannot run: {reason}")
    pytest.skip(ABSENT + f" ({reason})")


def _wait(what: str, check, timeout_s: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {log.name}\n" + log.read_text(errors="replace")[-1500:]
                for log in logs
                if log.exists()
            )
            raise RuntimeError(f"the test Slurm cluster: {what} did not happen\n{tails}")
        time.sleep(0.2)


def _conf(
    folder: Path,
    node: str,
    cpus: int,
    ctld_port: int,
    slurmd_port: int,
    overrides: dict[str, str] | None = None,
) -> str:
    munge = folder / "munge" / "munge.socket"
    lines = {
        "ClusterName": "statatools",
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmctldPort": str(ctld_port),
        "SlurmdPort": str(slurmd_port),
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={munge}",
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "StateSaveLocation": str(folder / "state"),
        "SlurmdSpoolDir": str(folder / "spool"),
        "SlurmctldPidFile": str(folder / "slurmctld.pid"),
        "SlurmdPidFile": str(folder / "slurmd.pid"),
        "SlurmctldLogFile": str(folder / "slurmctld.log"),
        "SlurmdLogFile": str(folder / "slurmd.log"),
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        "ReturnToService": "2",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "MpiDefault": "none",
        "SchedulerType": "sched/backfill",
        "SchedulerParameters": "sched_interval=1,bf_interval=1",
        "MinJobAge": "3600",
        "KillWait": "5",
        "InactiveLimit": "0",
        "SlurmctldTimeout": "30",
        "SlurmdTimeout": "30",
        "MaxArraySize": "1001",
    }
    lines.update(overrides or {})
    text = "\n".join(f"{k}={v}" for k, v in lines.items())
    text += (
        f"\nNodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 State=UNKNOWN\n"
        f"PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP\n"
    )
    return text


@contextlib.contextmanager
def start_cluster(
    overrides: dict[str, str] | None = None,
    more: str = "",
    files: dict[str, str] | None = None,
    accounting: bool = False,
) -> Iterator[Cluster]:
    """The cluster, up (node idle) when this yields; every daemon stopped after. `overrides`
    replace slurm.conf lines, `more` is added to it ({node} is the node's name), `files` are
    written beside it (cgroup.conf). The cgroups task/cgroup makes are removed at the end.
    `accounting` adds slurmdbd over a private MariaDB, so that sacct works."""
    missing = _missing() + (_missing_accounting() if accounting else [])
    if missing:
        _unavailable(f"not installed: {', '.join(missing)}")
    if os.geteuid() != 0:
        _unavailable("not running as root")
    folder = Path(tempfile.mkdtemp(prefix="stata-tools-slurm-"))
    for sub in ("munge", "state", "spool"):
        (folder / sub).mkdir(mode=0o700)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    conf = folder / "slurm.conf"
    dbd_port = free_port()
    if accounting:
        overrides = {
            **(overrides or {}),
            "AccountingStorageType": "accounting_storage/slurmdbd",
            "AccountingStorageHost": "localhost",
            "AccountingStoragePort": str(dbd_port),
            "AccountingStoragePass": str(
                folder / "munge" / "munge.socket"
            ),  # munge's, for slurmdbd
            "JobAcctGatherType": (overrides or {}).get("JobAcctGatherType", "jobacct_gather/linux"),
        }
    text = _conf(folder, node, cpus, free_port(), free_port(), overrides)
    conf.write_text(text + more.replace("{node}", node), encoding="utf-8")
    for name, content in (files or {}).items():
        (folder / name).write_text(content, encoding="utf-8")
    cgroups = [] if "cgroup" not in str(overrides) else _cgroups_to_make(node)
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    processes: list[subprocess.Popen[bytes]] = []
    logs = [folder / "munged.log", folder / "slurmctld.log", folder / "slurmd.log"]
    try:
        munge_socket = folder / "munge" / "munge.socket"
        processes.append(
            subprocess.Popen(
                [
                    _which("munged"),
                    "--foreground",
                    "--force",
                    f"--socket={munge_socket}",
                    f"--key-file={key}",
                    f"--pid-file={folder / 'munge' / 'munged.pid'}",
                    f"--log-file={folder / 'munged.log'}",
                    f"--seed-file={folder / 'munge' / 'munged.seed'}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait("munged's socket", munge_socket.exists, 15, logs)
        if accounting:
            processes += _start_accounting(folder, env, dbd_port, logs)
        for daemon in ("slurmctld", "slurmd"):
            argv = [_which(daemon), "-D", "-f", str(conf)]
            if daemon == "slurmctld":
                argv.insert(2, "-c")  # a clean start: no state from an earlier run
            processes.append(
                subprocess.Popen(
                    argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            if daemon == "slurmctld":
                _wait(
                    "slurmctld answering",
                    lambda: (
                        subprocess.run(
                            ["scontrol", "ping"], env=env, capture_output=True, text=True
                        ).stdout.count("UP")
                        > 0
                    ),
                    30,
                    logs,
                )

        def idle() -> bool:
            out = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True
            ).stdout
            return "idle" in out

        _wait("the node coming up idle", idle, 45, logs)
        yield Cluster(conf, folder, node, cpus)
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["scancel", "--full", "-u", "root"], env=env, timeout=10)
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        shutil.rmtree(folder, ignore_errors=True)
        for made in cgroups:  # task/cgroup's own folders, empty once its daemons are gone
            _remove_cgroup(made)


ACCOUNTING = ("slurmdbd", "mariadbd", "mariadb-install-db", "mariadb", "sacctmgr", "sacct")


def _missing_accounting() -> list[str]:
    return [name for name in ACCOUNTING if shutil.which(name) is None and not _sbin(name)]


def _start_accounting(
    folder: Path, env: dict[str, str], dbd_port: int, logs: list[Path]
) -> list[subprocess.Popen[bytes]]:
    """A private MariaDB (its data, socket and TCP port in the folder's own) and slurmdbd on it;
    the cluster registered with sacctmgr. Both are returned to be stopped with the rest."""
    db = folder / "db"
    db.mkdir()
    sock = db / "mysqld.sock"
    db_port = free_port()
    logs += [db / "error.log", folder / "slurmdbd.log"]
    subprocess.run(
        [
            _which("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={db / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    started = [
        subprocess.Popen(
            [
                _which("mariadbd"),
                "--no-defaults",
                f"--datadir={db / 'data'}",
                f"--socket={sock}",
                f"--port={db_port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                f"--pid-file={db / 'mariadbd.pid'}",
                f"--log-error={db / 'error.log'}",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    _wait("MariaDB's socket", sock.exists, 30, logs)
    password = os.urandom(12).hex()
    grant = (
        f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}'; "
        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    )
    subprocess.run(
        [_which("mariadb"), "--no-defaults", "-S", str(sock), "-u", "root", "-e", grant],
        check=True,
        capture_output=True,
        timeout=30,
    )
    dbd_conf = folder / "slurmdbd.conf"
    munge = folder / "munge" / "munge.socket"
    dbd_conf.write_text(
        "\n".join(
            [
                "AuthType=auth/munge",
                f"AuthInfo=socket={munge}",
                "DbdHost=localhost",
                f"DbdPort={dbd_port}",
                "SlurmUser=root",
                f"PidFile={folder / 'slurmdbd.pid'}",
                f"LogFile={folder / 'slurmdbd.log'}",
                "StorageType=accounting_storage/mysql",
                "StorageHost=127.0.0.1",
                f"StoragePort={db_port}",
                "StorageUser=slurm",
                f"StoragePass={password}",
                "StorageLoc=slurm_acct_db",
                "",
            ]
        ),
        encoding="utf-8",
    )
    dbd_conf.chmod(0o600)  # slurmdbd refuses a config others may read
    started.append(
        subprocess.Popen(
            [_which("slurmdbd"), "-D"],
            env=env,  # it reads slurmdbd.conf beside SLURM_CONF's slurm.conf
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )

    def answering() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", dbd_port)) == 0

    _wait("slurmdbd answering", answering, 60, logs)
    subprocess.run(
        [_which("sacctmgr"), "-i", "add", "cluster", "statatools"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return started


def _cgroups_to_make(node: str) -> list[Path]:
    """The cgroup v1 folders slurmd will make (slurm_<node> under each controller), unless they
    are there already (then someone else's: left alone)."""
    root = Path("/sys/fs/cgroup")
    found = [p / f"slurm_{node}" for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    return [p for p in found if not p.exists()]


def _remove_cgroup(path: Path) -> None:
    if not path.is_dir():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()
