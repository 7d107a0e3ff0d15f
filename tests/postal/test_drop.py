"""Delivery to a real SFTP server on localhost (asyncssh) and to local folders."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from journeyflow import config as settings
from journeyflow.config import VendorProfile
from journeyflow.postal.drop import CONN_ID, DeliveryError, LocalDrop, deliver, open_drop
from journeyflow.postal.mailfile import build_mailing
from tests.postal.sftp_server import PASSWORD, USER, SFTPTestServer

D = date(2026, 11, 21)
REMOTE_DIR = "win_back/2026-11-21"
ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"


def rows(n: int, name: str = "Mustermann") -> list[dict]:
    return [
        {
            "contact_id": f"{i:05d}",
            "last_name": name,
            "street": "Hauptstraße",
            "house_number": str(i),
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        }
        for i in range(n)
    ]


def build(folder: Path, n: int = 300, name: str = "Mustermann") -> list[Path]:
    profile = VendorProfile(name="default")
    return build_mailing(folder, rows(n, name), [("x", "missing street")], profile, "win_back",
                         D, "run-1")  # fmt: skip


@pytest.fixture
def sftp(tmp_path, monkeypatch):
    root = tmp_path / "sftp-root"
    root.mkdir()
    server = SFTPTestServer(root).start()
    server.conn = {  # type: ignore[attr-defined]
        "conn_type": "sftp",
        "host": "127.0.0.1",
        "port": server.port,
        "login": USER,
        "password": PASSWORD,
        "extra": {
            "path": "/upload",
            "host_key": server.public_host_key,
            "look_for_keys": "false",
            "conn_retry_attempts": 1,
        },
    }
    monkeypatch.setenv(ENV, json.dumps(server.conn))  # type: ignore[attr-defined]
    yield server
    server.stop()


def remote_names(server: SFTPTestServer) -> list[str]:
    folder = server.state.root / "upload" / REMOTE_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_sftp_upload_final_names_and_done_last(sftp, tmp_path):
    files = build(tmp_path / "build")
    with open_drop() as drop:
        result = deliver(drop, files[::-1], REMOTE_DIR)  # order given does not matter
    assert result.skipped == [] and result.delivered[-1].endswith(".done")
    assert remote_names(sftp) == sorted(p.name for p in files)
    assert sftp.state.renames[-1] == files[-1].name and len(sftp.state.renames) == 4
    for local in files:
        remote = sftp.state.root / "upload" / REMOTE_DIR / local.name
        assert remote.read_bytes() == local.read_bytes()


def test_connection_cut_mid_upload_leaves_no_final_file_and_retry_succeeds(sftp, tmp_path):
    files = build(tmp_path / "build", n=2000)
    assert files[0].stat().st_size > 100_000  # several SFTP writes
    sftp.state.cut_after_bytes = 40_000
    with pytest.raises(DeliveryError) as info, open_drop() as drop:
        deliver(drop, files, REMOTE_DIR)
    message = str(info.value)
    assert CONN_ID in message and f"/upload/{REMOTE_DIR}/.{files[0].name}.part" in message
    assert PASSWORD not in message
    assert sftp.state.cuts == 1
    assert remote_names(sftp) == [f".{files[0].name}.part"]  # no final name, no marker

    with open_drop() as drop:
        result = deliver(drop, files, REMOTE_DIR)
    assert len(result.delivered) == 4
    assert remote_names(sftp) == sorted(p.name for p in files)
    assert (sftp.state.root / "upload" / REMOTE_DIR / files[0].name).read_bytes() == (
        files[0].read_bytes()
    )


def test_second_delivery_transfers_nothing(sftp, tmp_path):
    files = build(tmp_path / "build")
    with open_drop() as drop:
        deliver(drop, files, REMOTE_DIR)
    writes, renames = sftp.state.writes, len(sftp.state.renames)
    with open_drop() as drop:
        result = deliver(drop, files, REMOTE_DIR)
    assert result.delivered == [] and result.skipped == [p.name for p in files]
    assert sftp.state.writes == writes and len(sftp.state.renames) == renames


def test_without_posix_rename_an_undelivered_stale_file_is_replaced(sftp, tmp_path):
    sftp.state.posix_rename = False
    stale = sftp.state.root / "upload" / REMOTE_DIR
    stale.mkdir(parents=True)
    files = build(tmp_path / "build")
    (stale / files[0].name).write_bytes(b"half a file from an older build")
    with open_drop() as drop:
        result = deliver(drop, files, REMOTE_DIR)
    assert len(result.delivered) == 4
    assert (stale / files[0].name).read_bytes() == files[0].read_bytes()
    assert sftp.state.renames[-1].endswith(".done")


def test_a_delivered_set_is_never_overwritten_with_other_content(sftp, tmp_path):
    first = build(tmp_path / "a")
    with open_drop() as drop:
        deliver(drop, first, REMOTE_DIR)
    other = build(tmp_path / "b", name="Meier")
    with pytest.raises(DeliveryError, match="already delivered"), open_drop() as drop:
        deliver(drop, other, REMOTE_DIR)
    remote = sftp.state.root / "upload" / REMOTE_DIR / first[0].name
    assert remote.read_bytes() == first[0].read_bytes()


def test_wrong_password_names_the_connection_not_the_password(sftp, tmp_path, monkeypatch):
    conn = {**sftp.conn, "password": "wrong-Secret-42"}
    monkeypatch.setenv(ENV, json.dumps(conn))
    with pytest.raises(DeliveryError) as info, open_drop() as drop:
        deliver(drop, build(tmp_path / "build", n=1), REMOTE_DIR)
    assert CONN_ID in str(info.value) and "wrong-Secret-42" not in str(info.value)


def test_unknown_host_key_is_refused(sftp, tmp_path, monkeypatch):
    conn = {**sftp.conn, "extra": {**sftp.conn["extra"], "host_key": None}}
    del conn["extra"]["host_key"]
    monkeypatch.setenv(ENV, json.dumps(conn))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts
    with pytest.raises(DeliveryError, match="host_key"), open_drop() as drop:
        deliver(drop, build(tmp_path / "build", n=1), REMOTE_DIR)


def test_fs_drop(tmp_path, monkeypatch):
    target = tmp_path / "drop"
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "fs", "extra": {"path": str(target)}}))
    files = build(tmp_path / "build", n=3)
    drop = open_drop()
    assert isinstance(drop, LocalDrop) and drop.root == target
    with drop:
        assert len(deliver(drop, files, REMOTE_DIR).delivered) == 4
        assert len(deliver(drop, files, REMOTE_DIR).skipped) == 4
    folder = target / REMOTE_DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in files)
    assert (folder / files[0].name).read_bytes() == files[0].read_bytes()


def test_absent_connection_uses_home_postal(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("JOURNEYFLOW_HOME", str(tmp_path / "home"))
    drop = open_drop()
    assert isinstance(drop, LocalDrop) and drop.root == settings.home() / "postal"
    files = build(tmp_path / "build", n=2)
    with drop:
        deliver(drop, files, REMOTE_DIR)
    assert (tmp_path / "home" / "postal" / REMOTE_DIR / files[-1].name).exists()


@pytest.mark.parametrize(
    ("conn", "needle"),
    [
        ({"conn_type": "fs"}, '"path"'),
        ({"conn_type": "http", "host": "x"}, "conn_type 'http'"),
    ],
)
def test_bad_connection(conn, needle, monkeypatch):
    monkeypatch.setenv(ENV, json.dumps(conn))
    with pytest.raises(DeliveryError, match=needle):
        open_drop()
