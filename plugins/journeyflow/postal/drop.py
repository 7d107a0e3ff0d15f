"""The postal drop: where the print vendor picks up mailing files (SFTP or a local folder).

Connection ``journeyflow_postal_drop``:

- ``sftp``: host, port, login, password or extra ``key_file``/``private_key``; the remote base
  folder in extra ``path`` (default ``.``); extra ``conn_retry_attempts`` (default 3) connection
  attempts. Host keys are checked as the SFTP provider does: give
  extra ``host_key`` ("ssh-ed25519 AAAA...") or have the host in ``~/.ssh/known_hosts``.
- ``fs``: a local folder in extra ``path``.
- absent: ``$JOURNEYFLOW_HOME/postal``.

``deliver`` uploads every file as ``.<name>.part`` and renames it to its final name, the ``.done``
marker last, so a vendor never sees a half-written file. A file already there with the same size
and sha256 is skipped, so a retry never delivers twice.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import posixpath
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from journeyflow.config import home
from journeyflow.connections import require

log = logging.getLogger(__name__)

CONN_ID = "journeyflow_postal_drop"
DONE_SUFFIX = ".done"
_CHUNK = 1 << 20


class DeliveryError(RuntimeError):
    """A delivery failed; the message names the connection and the remote path."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _relative(remote_dir: str) -> PurePosixPath:
    rel = PurePosixPath(remote_dir)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"remote_dir {remote_dir!r} must be a relative path inside the drop")
    return rel


class Drop:
    """A place files can be uploaded to, renamed in and checked. Paths are relative to it."""

    conn_id: str | None = None

    @property
    def description(self) -> str:
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        """The text with secrets masked (for error messages)."""
        return text

    @contextmanager
    def _op(self, action: str, path: str) -> Iterator[None]:
        """Turn any failure into a DeliveryError naming the drop, the action and the path."""
        try:
            yield
        except DeliveryError:
            raise
        except Exception as exc:
            hint = ""
            if "known_hosts" in str(exc) or type(exc).__name__ == "BadHostKeyException":
                hint = (
                    "; set the connection's extra host_key to the server's public host key "
                    '("ssh-ed25519 AAAA...")'
                )
            raise DeliveryError(
                self._scrub(
                    f"postal drop {self.description}: {action} {path} failed: "
                    f"{type(exc).__name__}: {exc}{hint}"
                )
            ) from None

    def makedirs(self, path: str) -> None:
        raise NotImplementedError

    def size(self, path: str) -> int | None:
        """Size of the file at ``path``, None when there is none."""
        raise NotImplementedError

    def sha256(self, path: str) -> str:
        raise NotImplementedError

    def upload(self, local: Path, path: str) -> None:
        raise NotImplementedError

    def replace(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst``, replacing ``dst`` if it exists."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection, if any."""

    def __enter__(self) -> Drop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalDrop(Drop):
    """A folder on this machine (conn_type ``fs``, or ``$JOURNEYFLOW_HOME/postal``)."""

    def __init__(self, root: Path, conn_id: str | None = None, mode: int = 0o640):
        self.root = Path(root)
        self.conn_id = conn_id
        self.mode = mode

    @property
    def description(self) -> str:
        source = f"connection {self.conn_id}" if self.conn_id else "default drop"
        return f"{source} (folder {self.root})"

    def _path(self, path: str) -> Path:
        return self.root.joinpath(*_relative(path).parts)

    def makedirs(self, path: str) -> None:
        with self._op("create folder", path):
            self._path(path).mkdir(parents=True, exist_ok=True)

    def size(self, path: str) -> int | None:
        with self._op("check", path):
            try:
                return self._path(path).stat().st_size
            except FileNotFoundError:
                return None

    def sha256(self, path: str) -> str:
        with self._op("read back", path):
            return file_sha256(self._path(path))

    def upload(self, local: Path, path: str) -> None:
        target = self._path(path)
        with self._op("upload", path), local.open("rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
            os.chmod(target, self.mode)

    def replace(self, src: str, dst: str) -> None:
        target = self._path(dst)
        with self._op(f"rename {src} to", dst):
            os.replace(self._path(src), target)
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class SftpDrop(Drop):
    """An SFTP server, reached with the Airflow SFTP provider's ``SFTPHook``."""

    def __init__(self, conn_id: str, conn: Any):
        self.conn_id = conn_id
        extra = conn.extra_dejson if conn.extra else {}
        self.base = str(extra.get("path") or ".")
        self.host = conn.host
        self.port = conn.port or 22
        self.attempts = int(extra.get("conn_retry_attempts", 3))
        self._secrets = [s for s in (conn.password, extra.get("private_key_passphrase")) if s]
        self._stack = ExitStack()
        self._client: Any = None
        self._posix_rename = True

    @property
    def description(self) -> str:
        return f"connection {self.conn_id} (sftp {self.host}:{self.port})"

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def client(self) -> Any:
        """The paramiko SFTP client, connected on first use."""
        if self._client is None:
            from airflow.providers.sftp.hooks.sftp import SFTPHook

            with self._op("connect to", self.base):
                hook = SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=self.attempts)
                self._client = self._stack.enter_context(hook.get_managed_conn())
        return self._client

    def _path(self, path: str) -> str:
        return posixpath.join(self.base, str(_relative(path)))

    def makedirs(self, path: str) -> None:
        full = self._path(path)
        parts = PurePosixPath(full).parts
        current = ""
        for part in parts:
            current = posixpath.join(current, part) if current else part
            if current in ("/", "."):
                continue
            with self._op("create folder", current):
                try:
                    if stat.S_ISDIR(self.client.stat(current).st_mode or 0):
                        continue
                    raise DeliveryError(
                        f"postal drop {self.description}: {current} exists and is not a folder"
                    )
                except FileNotFoundError:
                    self.client.mkdir(current)

    def size(self, path: str) -> int | None:
        full = self._path(path)
        with self._op("check", full):
            try:
                return self.client.stat(full).st_size
            except FileNotFoundError:
                return None

    def sha256(self, path: str) -> str:
        full = self._path(path)
        digest = hashlib.sha256()
        with self._op("read back", full), self.client.open(full, "rb") as fh:
            fh.prefetch()
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def upload(self, local: Path, path: str) -> None:
        full = self._path(path)
        with self._op("upload", full):
            self.client.put(str(local), full, confirm=True)

    def replace(self, src: str, dst: str) -> None:
        old, new = self._path(src), self._path(dst)
        with self._op(f"rename {old} to", new):
            if self._posix_rename:
                try:
                    self.client.posix_rename(old, new)
                    return
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.EACCES):
                        raise
                    log.info("%s: no posix-rename, falling back to remove+rename", self.conn_id)
                    self._posix_rename = False
            with suppress(FileNotFoundError):
                self.client.remove(new)
            self.client.rename(old, new)

    def close(self) -> None:
        self._stack.close()
        self._client = None


def open_drop(conn_id: str = CONN_ID) -> Drop:
    """The drop of connection ``conn_id`` (sftp or fs); in local mode without it, the folder
    ``$JOURNEYFLOW_HOME/postal``."""
    conn = require(conn_id)
    if conn is None:
        return LocalDrop(home() / "postal")
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sftp":
        if not conn.host:
            raise DeliveryError(f"connection {conn_id}: sftp needs a host")
        return SftpDrop(conn_id, conn)
    if conn_type == "fs":
        extra = conn.extra_dejson if conn.extra else {}
        if not extra.get("path"):
            raise DeliveryError(
                f'connection {conn_id}: conn_type fs needs extra {{"path": "/some/folder"}}'
            )
        return LocalDrop(Path(extra["path"]), conn_id)
    raise DeliveryError(
        f"connection {conn_id} has conn_type {conn.conn_type!r}; use sftp, or fs with "
        f'extra {{"path": "/some/folder"}}'
    )


@dataclass
class DeliveryResult:
    """Names of the files transferred and of those already there (skipped)."""

    delivered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def marker_delivered(drop: Drop, remote_dir: str, name: str, data: bytes) -> bool:
    """Whether ``remote_dir/name`` in the drop holds exactly ``data`` (a delivered set's marker)."""
    path = posixpath.join(str(_relative(remote_dir)), name)
    return drop.size(path) == len(data) and drop.sha256(path) == hashlib.sha256(data).hexdigest()


def deliver(
    drop: Drop,
    local_files: Sequence[Path],
    remote_dir: str,
    before_marker: Callable[[], None] | None = None,
) -> DeliveryResult:
    """Upload ``local_files`` into ``remote_dir`` of the drop, the ``.done`` marker last;
    ``before_marker`` is called right before the marker goes up.

    Each file goes up as ``.<name>.part`` and is renamed to its name; one already there with the
    same size and sha256 is skipped. When the marker is already there but a file differs, the
    set was delivered before with other content: DeliveryError, nothing is overwritten.
    """
    files = sorted((Path(p) for p in local_files), key=lambda p: p.name.endswith(DONE_SUFFIX))
    rel = str(_relative(remote_dir))
    result = DeliveryResult()
    drop.makedirs(rel)
    pending: list[Path] = []
    marker_there = False
    for local in files:
        final = posixpath.join(rel, local.name)
        remote_size = drop.size(final)
        if local.name.endswith(DONE_SUFFIX) and remote_size is not None:
            marker_there = True
        if remote_size == local.stat().st_size and drop.sha256(final) == file_sha256(local):
            result.skipped.append(local.name)
        else:
            pending.append(local)
    if pending and marker_there:
        raise DeliveryError(
            f"postal drop {drop.description}: {rel} was already delivered (its .done marker is "
            f"there) but {', '.join(p.name for p in pending)} differ(s) from this build; "
            "refusing to overwrite a delivered mailing. Check with the vendor, then remove the "
            "remote folder to deliver again."
        )
    for local in pending:
        if before_marker is not None and local.name.endswith(DONE_SUFFIX):
            before_marker()
        final = posixpath.join(rel, local.name)
        part = posixpath.join(rel, f".{local.name}.part")
        drop.upload(local, part)
        size = drop.size(part)
        if size != local.stat().st_size:
            raise DeliveryError(
                f"postal drop {drop.description}: {part} has {size} bytes after upload, "
                f"expected {local.stat().st_size}"
            )
        drop.replace(part, final)
        result.delivered.append(local.name)
    log.info(
        "postal drop %s: %s delivered %d file(s), %d already there",
        drop.conn_id or "(default)",
        rel,
        len(result.delivered),
        len(result.skipped),
    )
    return result
