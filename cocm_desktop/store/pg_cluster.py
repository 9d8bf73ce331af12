"""A private PostgreSQL cluster in one folder, made from the system's own PostgreSQL programs.

The test session and `cocm-desktop server demo` both need a real PostgreSQL server that nobody
else shares: `initdb` into a folder, a free loopback port, TLS with a clinic CA made here, and
SCRAM-SHA-256 passwords over TLS only (pg_hba.conf has `hostssl` lines and no `host` line, so a
plaintext connection is refused by the server itself). A clinic's real server is run by its IT
person with their own certificates; this module is for a cluster the app starts itself.

Layout of the folder (DIR):

    cluster.json     port, programs, versions: what a later process needs to `open` it (no password)
    ca.crt, ca.key   the clinic CA (ca.crt is what a workstation's connection profile carries)
    data/            PGDATA, with the server's certificate and key (server.crt, server.key)
    run/             the server's Unix socket (the admin only)
    log/server.log   the server's log (no statements: they may hold patient data)

PostgreSQL refuses to run as root. When we are root, every server program runs as the `postgres`
system account (or `nobody` where there is none), and what the server uses belongs to that
account; the folders above DIR must let it pass through.

Server settings: UTF8 with C collation (text sorts and lower-cases byte-wise, as in SQLite), data
checksums, time zone UTC, at most 200 connections, no statements in the log. `durable=False` (the
test session) turns fsync off: fast, and lost on a crash.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from .errors import StoreError
from .files import fsync_dir

MIN_MAJOR = 15
ADMIN_USER = "cocm_admin"
HOST = "127.0.0.1"  # the server listens on loopback only; the certificate also names localhost and ::1
STATE_FILE = "cluster.json"
STATE_FORMAT = 1
NOT_INSTALLED = (
    "PostgreSQL 15 or newer is not installed: install Debian's `postgresql` package "
    "(apt install postgresql) or PostgreSQL for Windows"
)
_EXE = ".exe" if os.name == "nt" else ""
_PROGRAMS = ("pg_ctl", "initdb", "postgres")
_SERVICE_ACCOUNTS = ("postgres", "nobody")
_SOCKET_DIR_MAX = 90  # sun_path is 108 bytes; PostgreSQL appends "/.s.PGSQL.NNNNN"
_TIMEOUT_S = 60
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class PgClusterError(StoreError):
    """A private cluster could not be made, started or stopped; `str()` is one plain sentence."""

    title = "Clinic server"


class PgNotInstalled(PgClusterError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(NOT_INSTALLED + (f" ({detail})" if detail else "") + ".")


class PortBusy(PgClusterError):
    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(
            f"Port {port} on {HOST} is already in use by another program; choose another port."
        )


class ClusterDirError(PgClusterError):
    pass


class StartFailed(PgClusterError):
    pass


# ---- finding the programs ----------------------------------------------------------------------


def server_version(bin_dir: Path) -> tuple[int, int]:
    """(major, minor) of the `postgres` program in `bin_dir`."""
    out = subprocess.run(
        [str(bin_dir / f"postgres{_EXE}"), "--version"],
        capture_output=True, text=True, timeout=_TIMEOUT_S, check=False, env=_clean_env(),
    ).stdout
    found = _VERSION.search(out)
    if not found:
        raise PgNotInstalled(f"{bin_dir} holds no working PostgreSQL server")
    return int(found.group(1)), int(found.group(2) or 0)


def _has_programs(folder: Path) -> bool:
    return all((folder / f"{name}{_EXE}").is_file() for name in _PROGRAMS)


def _default_roots() -> list[Path]:
    """Where installers put PostgreSQL: Debian's versioned folders, Windows' Program Files."""
    if os.name == "nt":
        bases = {os.environ.get(var) for var in ("ProgramW6432", "ProgramFiles", "ProgramFiles(x86)")}
        return [Path(b) / "PostgreSQL" / "*" / "bin" for b in sorted(filter(None, bases))]
    return [Path("/usr/lib/postgresql/*/bin")]


def _expand(pattern: Path) -> list[Path]:
    if "*" not in str(pattern):
        return [pattern]
    anchor = Path(pattern.anchor)
    return sorted(anchor.glob(str(pattern.relative_to(anchor))))


def find_pg_bin(*, path: str | None = None, roots: Sequence[Path] | None = None) -> Path:
    """The folder holding pg_ctl, initdb and postgres of PostgreSQL ≥ 15.

    Looked up in order: $COCM_PG_BIN (when set), PATH (`path` replaces it; symlinks followed to
    the real folder), then the usual install folders (`roots`, globs allowed), newest version first.
    Raises PgNotInstalled naming the package to install.
    """
    if roots is None and os.environ.get("COCM_PG_BIN"):
        chosen = Path(os.environ["COCM_PG_BIN"])
        if not _has_programs(chosen) or server_version(chosen)[0] < MIN_MAJOR:
            raise PgNotInstalled(f"COCM_PG_BIN={chosen} holds no PostgreSQL {MIN_MAJOR}+ server")
        return chosen
    candidates: list[Path] = []
    on_path = shutil.which(f"pg_ctl{_EXE}", path=path if path is not None else os.environ.get("PATH"))
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    installed = [folder for pattern in (_default_roots() if roots is None else roots)
                 for folder in _expand(Path(pattern))]
    for folder in candidates + sorted(set(installed), key=_folder_version, reverse=True):
        if _has_programs(folder) and server_version(folder)[0] >= MIN_MAJOR:
            return folder
    raise PgNotInstalled()


def _folder_version(folder: Path) -> tuple[int, ...]:
    """Sort key from the version in a path like /usr/lib/postgresql/16/bin (0 when none)."""
    digits = re.findall(r"\d+", folder.parent.name)
    return tuple(int(d) for d in digits) or (0,)


# ---- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def new_ca(common_name: str | None = None, *, years: int = 10) -> CertKey:
    """A self-signed CA that may only sign server certificates (path length 0)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    # A unique name per CA: two clinics' CAs never look alike to a verifier.
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CoCM Desktop"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name or f"CoCM Desktop clinic CA {secrets.token_hex(4)}"),
    ])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(_cert_pem(cert), _key_pem(key))


def issue_server_cert(ca: CertKey, *, years: int = 10) -> CertKey:
    """A server certificate for `localhost`, 127.0.0.1 and ::1, signed by `ca`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=365 * years), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return CertKey(_cert_pem(cert), _key_pem(key))


def _key_usage(*, cert_sign: bool):  # noqa: ANN202 - cryptography's type, imported lazily
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


def _cert_pem(cert) -> bytes:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# ---- files and accounts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    """Who runs the server programs: None (ourselves) or a system account when we are root."""

    name: str
    uid: int
    gid: int


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _service_account() -> _Account:
    import pwd

    for name in _SERVICE_ACCOUNTS:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(name, entry.pw_uid, entry.pw_gid)
    raise PgClusterError(
        "PostgreSQL cannot run as root and this computer has no `postgres` or `nobody` account; "
        "run as an ordinary user."
    )


def _owner_of(folder: Path) -> _Account:
    import pwd

    st = folder.stat()
    try:
        name = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        name = str(st.st_uid)
    return _Account(name, st.st_uid, st.st_gid)


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables (a stray PGPORT or PGDATA must not redirect a program)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PG")}
    env["LC_MESSAGES"] = "C"  # messages in English: they end up in our errors
    return env


def _write_file(path: Path, data: bytes, *, mode: int, owner: _Account | None) -> None:
    """Write complete-or-nothing (temp + fsync + rename) with `mode`, owned by `owner` if given."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have taken bits away from os.open's mode
        if owner is not None:
            os.chown(tmp, owner.uid, owner.gid)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _make_dir(path: Path, *, mode: int, owner: _Account | None) -> None:
    path.mkdir(mode=mode)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def _port_is_free(port: int) -> bool:
    """Whether the server could listen on HOST:port (SO_REUSEADDR as the server itself sets it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if os.name != "nt":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---- the cluster -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterState:
    """What cluster.json holds: enough to find, start and stop the cluster. Never a password."""

    port: int
    bin_dir: str
    server_version: str
    admin_user: str
    run_as: str | None
    durable: bool
    socket_dir: str | None
    created_utc: str
    host: str = HOST
    format: int = STATE_FORMAT


class PgCluster:
    """A PostgreSQL cluster in one folder: `init` makes it, `open` finds it again later."""

    def __init__(self, directory: Path, state: ClusterState) -> None:
        self.directory = directory
        self.state = state

    # -- making and finding ---------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: Path | str,
        *,
        admin_password: str,
        port: int | None = None,
        durable: bool = True,
        bin_dir: Path | None = None,
        admin_user: str = ADMIN_USER,
    ) -> PgCluster:
        """Make a new cluster in `directory` (absent or empty); it is not started.

        `durable=False` turns fsync, synchronous commit and full-page writes off: a crash may lose
        or corrupt the cluster, which is right for a test session and wrong for anything else.
        """
        if not admin_password:
            raise PgClusterError("The server's admin password must not be empty.")
        if not _ROLE_NAME.fullmatch(admin_user):
            raise PgClusterError(f"{admin_user!r} cannot be the admin's name (lower-case letters, digits, _).")
        if port is not None and not 0 < port < 65536:
            raise PgClusterError(f"Port {port} is not a port number (1 to 65535).")
        directory = Path(directory).absolute()
        bin_dir = bin_dir or find_pg_bin()
        major, minor = server_version(bin_dir)
        if major < MIN_MAJOR:
            raise PgNotInstalled(f"{bin_dir} holds PostgreSQL {major}")
        created_dir = cls._claim(directory)
        try:
            owner = _service_account() if _running_as_root() else None
            # When root, the service account passes through DIR (0711) into the folders it owns.
            os.chmod(directory, 0o711 if owner else 0o700)
            for sub in ("data", "log", "run"):
                _make_dir(directory / sub, mode=0o700, owner=owner)
            _check_reachable(directory / "data", bin_dir, owner)
            socket_dir = directory / "run"
            use_socket = os.name != "nt" and len(str(socket_dir)) <= _SOCKET_DIR_MAX
            cls._initdb(directory, bin_dir, owner, admin_user, admin_password, durable)
            ca = new_ca()
            server = issue_server_cert(ca)
            _write_file(directory / "ca.key", ca.key_pem, mode=0o600, owner=None)
            # A CA certificate is public: it is copied to every workstation's connection profile.
            _write_file(directory / "ca.crt", ca.cert_pem, mode=0o644, owner=None)
            data = directory / "data"
            _write_file(data / "server.crt", server.cert_pem, mode=0o600, owner=owner)
            _write_file(data / "server.key", server.key_pem, mode=0o600, owner=owner)
            chosen_port = port if port is not None else free_port()
            _configure(data, owner, port=chosen_port, durable=durable, admin_user=admin_user,
                       socket_dir=socket_dir if use_socket else None)
            state = ClusterState(
                port=chosen_port, bin_dir=str(bin_dir), server_version=f"{major}.{minor}",
                admin_user=admin_user, run_as=owner.name if owner else None, durable=durable,
                socket_dir=str(socket_dir) if use_socket else None,
                created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            _write_file(directory / STATE_FILE, (json.dumps(asdict(state), indent=2) + "\n").encode(),
                        mode=0o600, owner=None)
        except BaseException:
            cls._undo(directory, created_dir)
            raise
        return cls(directory, state)

    @classmethod
    def open(cls, directory: Path | str) -> PgCluster:
        """The cluster made earlier in `directory` (by this or another process)."""
        directory = Path(directory).absolute()
        try:
            raw = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
            state = ClusterState(**raw)
        except FileNotFoundError:
            raise ClusterDirError(f"{directory} holds no CoCM Desktop server (no {STATE_FILE}).") from None
        except (OSError, ValueError, TypeError) as exc:
            raise ClusterDirError(f"{directory}/{STATE_FILE} cannot be read ({type(exc).__name__}).") from None
        if state.format != STATE_FORMAT:
            raise ClusterDirError(f"{directory} was made by a newer CoCM Desktop (format {state.format}).")
        if not (directory / "data" / "PG_VERSION").is_file():
            raise ClusterDirError(f"{directory} has no PostgreSQL data folder (data/PG_VERSION is missing).")
        return cls(directory, state)

    @staticmethod
    def _claim(directory: Path) -> bool:
        """Refuse a folder in use; True when we created it (so a failed init removes it again)."""
        if directory.exists():
            if not directory.is_dir():
                raise ClusterDirError(f"{directory} is a file, not a folder.")
            if (directory / STATE_FILE).exists():
                raise ClusterDirError(f"{directory} already holds a CoCM Desktop server; start it instead.")
            if any(directory.iterdir()):
                raise ClusterDirError(f"{directory} is not empty; choose an empty or new folder.")
            return False
        directory.mkdir(parents=True, mode=0o700)
        return True

    @staticmethod
    def _undo(directory: Path, created_dir: bool) -> None:
        """A failed init leaves the folder as it found it (absent, or empty)."""
        if created_dir:
            shutil.rmtree(directory, ignore_errors=True)
        elif directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    @staticmethod
    def _initdb(directory: Path, bin_dir: Path, owner: _Account | None, admin_user: str,
                admin_password: str, durable: bool) -> None:
        # The password reaches initdb through a 0600 file only it reads, never a command line; the
        # file waits in log/ because initdb wants data/ empty.
        pwfile = directory / "log" / f".pw-{secrets.token_hex(4)}"
        try:
            _write_file(pwfile, admin_password.encode() + b"\n", mode=0o600, owner=owner)
            cmd = [
                str(bin_dir / f"initdb{_EXE}"), "-D", str(directory / "data"), "-U", admin_user,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                # C collation orders and lower-cases byte-wise, exactly as SQLite does, on any OS.
                "--locale=C", "--data-checksums",
                *([] if durable else ["--no-sync"]),
            ]
            result = _run(cmd, owner, cwd=directory / "data")
            if result.returncode != 0:
                raise PgClusterError(
                    "initdb could not make the server's data folder: " + _last_lines(result.stderr, 5)
                )
        finally:
            pwfile.unlink(missing_ok=True)

    # -- what callers use -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.state.host

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def admin_user(self) -> str:
        return self.state.admin_user

    @property
    def bin_dir(self) -> Path:
        return Path(self.state.bin_dir)

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "log" / "server.log"

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def socket_dir(self) -> Path | None:
        return Path(self.state.socket_dir) if self.state.socket_dir else None

    def dsn(self, *, dbname: str, user: str | None = None) -> str:
        """postgresql://[USER@]HOST:PORT/DB?sslmode=verify-full&sslrootcert=CA (never a password)."""
        who = f"{quote(user, safe='')}@" if user else ""
        return (
            f"postgresql://{who}{self.host}:{self.port}/{quote(dbname, safe='')}"
            f"?sslmode=verify-full&sslrootcert={quote(str(self.ca_cert_path), safe='/')}"
        )

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return self.dsn(dbname=dbname, user=self.admin_user)

    def is_running(self) -> bool:
        result = self._pg_ctl("status")
        return result.returncode == 0

    def start(self) -> None:
        """Start the server and wait until it accepts connections; a no-op when it already runs."""
        if self.is_running():
            return
        if not _port_is_free(self.port):
            raise PortBusy(self.port)
        log_before = self._log_size()
        result = self._pg_ctl("start", "-w", "-t", str(_TIMEOUT_S), "-l", str(self.log_path))
        if result.returncode != 0:
            reason = _reasons(self._log_since(log_before)) or _last_lines(result.stderr, 3)
            raise StartFailed(
                f"The PostgreSQL server in {self.directory} did not start: {reason} (log: {self.log_path})."
            )

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The server stopped inside the block and running again after it, whatever happens there
        (how the tests take the clinic server away under a running session)."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def stop(self) -> None:
        """Stop the server (open sessions are rolled back and closed); a no-op when it is stopped."""
        if not self.is_running():
            return
        result = self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(_TIMEOUT_S))
        if result.returncode != 0 and self.is_running():
            raise PgClusterError(
                f"The PostgreSQL server in {self.directory} did not stop: " + _last_lines(result.stderr, 3)
            )

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log (it holds no statements or passwords)."""
        return _last_lines(self._log_since(0), lines)

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # -- running the programs ---------------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        if not (self.bin_dir / f"pg_ctl{_EXE}").is_file():
            raise PgNotInstalled(f"the programs this server was made with, {self.bin_dir}, are gone")
        owner = None
        if _running_as_root():
            owner = _owner_of(self.data_dir)
            if owner.uid == 0:
                raise ClusterDirError(f"{self.data_dir} belongs to root; PostgreSQL cannot run as root.")
        elif hasattr(os, "geteuid") and self.data_dir.stat().st_uid != os.geteuid():
            raise ClusterDirError(
                f"The server in {self.directory} belongs to another user account; run as that user or root."
            )
        cmd = [str(self.bin_dir / f"pg_ctl{_EXE}"), args[0], "-D", str(self.data_dir), *args[1:]]
        return _run(cmd, owner, cwd=self.data_dir)


def _check_reachable(folder: Path, bin_dir: Path, owner: _Account | None) -> None:
    """As root: the service account must pass through every folder above DIR (asked of pg_ctl as it)."""
    if owner is None:
        return
    result = _run([str(bin_dir / f"pg_ctl{_EXE}"), "status", "-D", str(folder)], owner, cwd=folder)
    if "could not access directory" in result.stderr:
        raise ClusterDirError(
            f"The `{owner.name}` account that runs PostgreSQL cannot reach {folder.parent}: a folder "
            "above it is closed to other users; choose a folder such as /srv/cocm-server."
        )


def _run(cmd: list[str], owner: _Account | None, *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program, as `owner` when given (we are root); stdout and stderr captured.

    Captured through a temp file, not pipes: the server that `pg_ctl start` leaves running may
    inherit the handles (Windows), and a pipe it holds would keep us waiting for ever.
    """
    kwargs: dict = {}
    if owner is not None:
        kwargs = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
    with tempfile.TemporaryFile() as out:
        try:
            result = subprocess.run(
                cmd, cwd=cwd, env=_clean_env(), stdout=out, stderr=subprocess.STDOUT,
                timeout=_TIMEOUT_S * 2, check=False, stdin=subprocess.DEVNULL, **kwargs,
            )
        except subprocess.TimeoutExpired:
            raise PgClusterError(
                f"{Path(cmd[0]).name} did not finish within {_TIMEOUT_S * 2} seconds."
            ) from None
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    return subprocess.CompletedProcess(cmd, result.returncode, stdout=text, stderr=text)


def _configure(data: Path, owner: _Account | None, *, port: int, durable: bool, admin_user: str,
               socket_dir: Path | None) -> None:
    """Our settings after initdb's (the last line for a setting wins) and a TLS-only pg_hba.conf."""
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": _conf_string(str(socket_dir) if socket_dir else ""),
        "max_connections": "200",
        "password_encryption": "'scram-sha-256'",
        "ssl": "on",
        "ssl_cert_file": "'server.crt'",
        "ssl_key_file": "'server.key'",
        "ssl_min_protocol_version": "'TLSv1.2'",
        # Server time zone fixed, so timestamps without a zone read the same on every machine.
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
        # The log must never hold patient data: no statements, not even those that failed.
        "log_statement": "'none'",
        "log_min_error_statement": "panic",
        "log_min_duration_statement": "-1",
        "fsync": "on" if durable else "off",
        "synchronous_commit": "on" if durable else "off",
        "full_page_writes": "on" if durable else "off",
    }
    conf = data / "postgresql.conf"
    block = "\n# ---- CoCM Desktop private server ----\n" + "".join(
        f"{name} = {value}\n" for name, value in settings.items()
    )
    _write_file(conf, conf.read_bytes() + block.encode(), mode=0o600, owner=owner)
    # TLS with a password only: no `host` line, so a plaintext connection finds no entry and is
    # refused by the server; the Unix socket is for the admin alone.
    hba = (
        "# CoCM Desktop private server: TLS and SCRAM-SHA-256 only.\n"
        "# TYPE   DATABASE  USER  ADDRESS        METHOD\n"
        + (f"local   all       {admin_user}                 scram-sha-256\n" if socket_dir else "")
        + "hostssl all       all   127.0.0.1/32   scram-sha-256\n"
        + "hostssl all       all   ::1/128        scram-sha-256\n"
    )
    _write_file(data / "pg_hba.conf", hba.encode(), mode=0o600, owner=owner)


_LOG_PREFIX = re.compile(r"^.*?\[\d+\]\s+(?=[A-Z]+:)")  # "2026-01-01 10:00:00.000 UTC [123] "
_PROBLEM = re.compile(r"^(FATAL|PANIC|ERROR):|^LOG:\s+(invalid|could not|unrecognized)")


def _reasons(log: str) -> str:
    """Why a start failed, from the log lines it wrote: its errors, without time stamps."""
    lines = [_LOG_PREFIX.sub("", line.strip()) for line in log.splitlines()]
    problems = [" ".join(line.split()) for line in lines if _PROBLEM.match(line)]
    return "; ".join(problems[-4:]) or _last_lines(log, 3)


def _conf_string(value: str) -> str:
    """A postgresql.conf string literal (a quote in a folder name is doubled, not a syntax error)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _last_lines(text: str, lines: int) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


@contextlib.contextmanager
def running(cluster: PgCluster) -> Iterator[PgCluster]:
    """Start `cluster` and stop it again on the way out, whatever happened inside."""
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


__all__ = [
    "ADMIN_USER", "HOST", "MIN_MAJOR", "NOT_INSTALLED", "CertKey", "ClusterDirError", "ClusterState",
    "PgCluster", "PgClusterError", "PgNotInstalled", "PortBusy", "StartFailed", "find_pg_bin",
    "free_port", "issue_server_cert", "new_ca", "running", "server_version",
]
