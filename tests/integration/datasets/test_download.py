"""The downloader against a real HTTP server on loopback that speaks Range."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kryptonite.config import Settings
from kryptonite.datasets.download import ChecksumError, DownloadError, ensure_dataset
from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import DatasetSpec

SPEC = DatasetSpec("ml-test", "csv")


@dataclass
class Served:
    """What the server hands out and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            served.requests.append((self.path, rng))
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start, status = 0, 200
            if rng and served.honour_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            chunk = body[start:]
            self.send_response(status)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            self.wfile.write(chunk)
            served.sent[self.path] = served.sent.get(self.path, 0) + len(chunk)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _archive() -> bytes:
    files = {
        "movies.csv": "movieId,title,genres\n1,Alpha (1999),Drama\n2,Beta (2001),Comedy|Drama\n",
        "ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,3.5,200\n2,1,5.0,300\n",
        "tags.csv": "userId,movieId,tag,timestamp\n1,1,moody,150\n",
        "links.csv": "movieId,imdbId,tmdbId\n1,0000001,11\n2,0000002,\n",
        "README.txt": "x" * 50_000,  # enough bytes to make a partial download meaningful
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, text in files.items():
            zf.writestr(f"{SPEC.dirname}/{name}", text)
    return buf.getvalue()


ARCHIVE = _archive()
MD5 = f"{hashlib.md5(ARCHIVE).hexdigest()}  {SPEC.archive}\n".encode()
ZIP_PATH, MD5_PATH = f"/ml/{SPEC.archive}", f"/ml/{SPEC.archive}.md5"


@pytest.fixture
def server() -> Iterator[tuple[Served, str]]:
    served = Served(files={ZIP_PATH: ARCHIVE, MD5_PATH: MD5})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{httpd.server_address[1]}/ml"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _settings(tmp_path: Path, base_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        data_dir=tmp_path / "data",
        download_dir=tmp_path / "cache",
        grouplens_base_url=base_url,
    )


def _cache_entries(settings: Settings) -> set[str]:
    cache = settings.resolved_download_dir
    return {p.name for p in cache.iterdir()} if cache.exists() else set()


@pytest.mark.parametrize("style", ["gnu", "bsd"])
def test_fresh_download_verifies_and_extracts(server, tmp_path: Path, style: str) -> None:
    served, url = server
    if style == "bsd":  # what `md5` on macOS writes
        served.files[MD5_PATH] = (
            f"MD5 ({SPEC.archive}) = {hashlib.md5(ARCHIVE).hexdigest()}".encode()
        )
    settings = _settings(tmp_path, url)
    folder = ensure_dataset(SPEC, settings, progress=False)
    assert folder == settings.resolved_download_dir / SPEC.dirname
    assert (settings.resolved_download_dir / SPEC.archive).read_bytes() == ARCHIVE
    assert _cache_entries(settings) == {SPEC.archive, SPEC.dirname}  # no .part, no temp dir
    assert [p for p, _ in served.requests] == [MD5_PATH, ZIP_PATH]
    frames = load_dataset(SPEC, folder)
    assert len(frames.ratings) == 3 and frames.report.total_skipped == 0


def test_second_call_uses_cache_and_local_copy_wins(server, tmp_path: Path) -> None:
    served, url = server
    settings = _settings(tmp_path, url)
    first = ensure_dataset(SPEC, settings, progress=False)
    served.requests.clear()
    assert ensure_dataset(SPEC, settings, progress=False) == first
    local = settings.data_dir / SPEC.dirname
    local.mkdir(parents=True)
    assert ensure_dataset(SPEC, settings, progress=False) == local
    assert served.requests == []


@pytest.mark.parametrize("honour_range", [True, False])
def test_resumes_partial_download(server, tmp_path: Path, honour_range: bool) -> None:
    served, url = server
    served.honour_range = honour_range
    settings = _settings(tmp_path, url)
    cache = settings.resolved_download_dir
    cache.mkdir(parents=True)
    done = len(ARCHIVE) // 3
    (cache / f"{SPEC.archive}.part").write_bytes(ARCHIVE[:done])
    folder = ensure_dataset(SPEC, settings, progress=False)
    assert (folder / "ratings.csv").exists()
    assert (cache / SPEC.archive).read_bytes() == ARCHIVE
    assert (ZIP_PATH, f"bytes={done}-") in served.requests
    # Only the missing bytes travel when Range works; a server that ignores it restarts.
    assert served.sent[ZIP_PATH] == (len(ARCHIVE) - done if honour_range else len(ARCHIVE))


def test_stale_part_bigger_than_file_restarts(server, tmp_path: Path) -> None:
    served, url = server
    settings = _settings(tmp_path, url)
    cache = settings.resolved_download_dir
    cache.mkdir(parents=True)
    (cache / f"{SPEC.archive}.part").write_bytes(ARCHIVE + b"junk")
    assert (ensure_dataset(SPEC, settings, progress=False) / "movies.csv").exists()
    assert served.sent[ZIP_PATH] == len(ARCHIVE)


def test_corrupted_archive_fails_checksum_and_leaves_nothing(server, tmp_path: Path) -> None:
    served, url = server
    bad = bytearray(ARCHIVE)
    bad[len(bad) // 2] ^= 0xFF
    served.files[ZIP_PATH] = bytes(bad)
    settings = _settings(tmp_path, url)
    with pytest.raises(ChecksumError, match="MD5 mismatch") as err:
        ensure_dataset(SPEC, settings, progress=False)
    assert url in str(err.value)
    assert _cache_entries(settings) == set()
    served.files[ZIP_PATH] = ARCHIVE  # a later good download succeeds from scratch
    assert (ensure_dataset(SPEC, settings, progress=False) / "links.csv").exists()


def test_missing_md5_warns_and_checks_size(server, tmp_path: Path, caplog) -> None:
    served, url = server
    del served.files[MD5_PATH]
    settings = _settings(tmp_path, url)
    with caplog.at_level(logging.WARNING, logger="kryptonite.datasets.download"):
        folder = ensure_dataset(SPEC, settings, progress=False)
    assert (folder / "tags.csv").exists()
    assert "verifying size only" in caplog.text


def test_not_found_is_a_clear_error(server, tmp_path: Path) -> None:
    served, url = server
    served.files.clear()
    settings = _settings(tmp_path, url)
    with pytest.raises(DownloadError, match="HTTP 404") as err:
        ensure_dataset(SPEC, settings, progress=False)
    assert err.value.url == f"{url}/{SPEC.archive}"
    assert _cache_entries(settings) == set()


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the download starts
    settings = _settings(tmp_path, f"http://127.0.0.1:{port}/ml")
    with pytest.raises(DownloadError, match="cannot connect") as err:
        ensure_dataset(SPEC, settings, progress=False)
    assert f"127.0.0.1:{port}" in str(err.value)


def test_unsafe_archive_is_refused(server, tmp_path: Path) -> None:
    served, url = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", "owned")
    served.files[ZIP_PATH] = buf.getvalue()
    del served.files[MD5_PATH]
    settings = _settings(tmp_path, url)
    with pytest.raises(DownloadError, match="unsafe member"):
        ensure_dataset(SPEC, settings, progress=False)
    assert not (tmp_path / "escape.txt").exists()
    assert _cache_entries(settings) == set()
