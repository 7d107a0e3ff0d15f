"""A real SFTP server on localhost for the drop tests (asyncssh, password auth, chroot)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

USER = "vendor"
PASSWORD = "s3cr3t-Pa55word"


@dataclass
class ServerState:
    """What the server saw, and how it should misbehave."""

    root: Path
    renames: list[str] = field(default_factory=list)  # target names, in order
    writes: int = 0  # WRITE requests received
    cut_after_bytes: int | None = None  # close the connection once this many bytes came in
    cuts: int = 0
    posix_rename: bool = True  # advertise/accept posix-rename@openssh.com
    _written: int = 0


class _Auth(asyncssh.SSHServer):
    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD


def _sftp_factory(state: ServerState):
    class RecordingSFTPServer(asyncssh.SFTPServer):
        def __init__(self, chan):
            super().__init__(chan, chroot=str(state.root).encode())

        def write(self, file_obj, offset, data):
            state.writes += 1
            if state.cut_after_bytes is not None:
                state._written += len(data)
                if state._written >= state.cut_after_bytes:
                    state.cut_after_bytes = None  # only the first time
                    state.cuts += 1
                    self.connection.abort()
                    raise asyncssh.SFTPFailure("connection cut")
            return super().write(file_obj, offset, data)

        def rename(self, oldpath, newpath):
            state.renames.append(Path(newpath.decode()).name)
            return super().rename(oldpath, newpath)

        def posix_rename(self, oldpath, newpath):
            if not state.posix_rename:
                raise asyncssh.SFTPOpUnsupported("posix-rename not supported")
            state.renames.append(Path(newpath.decode()).name)
            return super().posix_rename(oldpath, newpath)

    return RecordingSFTPServer


class SFTPTestServer:
    """Runs asyncssh in a background thread with its own event loop on a free port."""

    def __init__(self, root: Path):
        self.state = ServerState(root=root)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    @property
    def public_host_key(self) -> str:
        """``ssh-ed25519 AAAA...`` for the connection's ``host_key`` extra."""
        key_type, data = self.host_key.export_public_key("openssh").decode().split()[:2]
        return f"{key_type} {data}"

    def start(self) -> SFTPTestServer:
        self._thread.start()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)
        return self

    async def _listen(self):
        return await asyncssh.listen(
            "127.0.0.1",
            self.port,
            server_host_keys=[self.host_key],
            server_factory=_Auth,
            sftp_factory=_sftp_factory(self.state),
            allow_scp=False,
        )

    def stop(self) -> None:
        async def _close():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
