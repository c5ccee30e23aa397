"""A real PostgreSQL server for the source tests.

``SQLML_TEST_PG_URI`` names one (CI sets it, see .ci/postgres.sh). Otherwise a throwaway
server is started from the installed PostgreSQL binaries in a temporary folder, listening on
127.0.0.1 only, and stopped at the end of the session. When neither is possible the
PostgreSQL tests are skipped with the reason.

Either way the login rules match .ci/postgres.sh: the ``postgres`` role is trusted on loopback,
every other role must give its password, so a wrong password can be tested.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URI_VARIABLE = "SQLML_TEST_PG_URI"
DATABASE = "sqlml_test"
HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


class NoServer(Exception):
    """Why no PostgreSQL server could be started."""


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """The URI of a database on a running PostgreSQL server, as a user allowed to create."""
    uri = os.environ.get(PG_URI_VARIABLE)
    if uri:
        yield uri
        return
    folder = Path(tempfile.mkdtemp(prefix="sqlml-pg-"))
    server = None
    try:
        try:
            server = _start_server(folder)
        except NoServer as exc:
            pytest.skip(f"no PostgreSQL server: {exc}; install postgresql or set {PG_URI_VARIABLE}")
        yield server
    finally:
        if server is not None:
            _stop_server(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def free_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def isolated_imports(tmp_path: Path) -> Iterator[None]:
    """Undo what importing modules of a project in ``tmp_path`` did to sys.path and modules.

    Installed packages imported meanwhile stay: C extensions must not be imported twice.
    """
    path = list(sys.path)
    yield
    sys.path[:] = path
    folder = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(folder):
            del sys.modules[name]


def _start_server(folder: Path) -> str:
    initdb = _find_binary("initdb")
    bin_folder = initdb.parent
    run_as = _run_as()
    if run_as:
        shutil.chown(folder, user="postgres")
    data = folder / "data"
    _run(
        [*run_as, str(initdb), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        "initdb",
    )
    (data / "pg_hba.conf").write_text(HBA)
    port = _unused_port()
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    log = folder / "server.log"
    pg_ctl = [*run_as, str(bin_folder / "pg_ctl"), "-D", str(data), "-l", str(log)]
    _run([*pg_ctl, "-o", options, "-w", "-t", "30", "start"], "pg_ctl start", log=log)
    createdb = [str(bin_folder / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
    _run([*createdb, "-U", "postgres", DATABASE], "createdb")
    return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"


def _stop_server(folder: Path) -> None:
    pg_ctl = _find_binary("initdb").parent / "pg_ctl"
    subprocess.run(
        [*_run_as(), str(pg_ctl), "-D", str(folder / "data"), "-m", "immediate", "stop"],
        capture_output=True,
        check=False,
    )


def _find_binary(name: str) -> Path:
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1])
    found = shutil.which(name)
    if found:
        return Path(found)
    raise NoServer(f"{name} not found")


def _run_as() -> list[str]:
    """The command prefix that runs a server binary as a user PostgreSQL accepts (not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise NoServer(
            "running as root and there is no 'postgres' OS user to run initdb as"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise NoServer("running as root and runuser not found to run initdb as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        if log is not None and log.exists():
            output = log.read_text().strip() or output
        last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
        raise NoServer(f"{what} failed: {last}")


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
