"""Download GroupLens archives into a cache: resume, size + MD5 checks, safe unzip.

Layout of the cache (``Settings.resolved_download_dir``)::

    ml-1m.zip.part   partial download, resumed with an HTTP Range request
    ml-1m.zip        complete, verified archive (renamed atomically from .part)
    ml-1m/           unpacked folder (renamed atomically from a temporary folder)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import httpx
from tqdm import tqdm

from kryptonite.config import Settings
from kryptonite.datasets.registry import DatasetSpec

log = logging.getLogger(__name__)

CHUNK = 1 << 16
#: GNU (``<md5>  ml-1m.zip``) or BSD (``MD5 (ml-1m.zip) = <md5>``) style.
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


class DownloadError(RuntimeError):
    """A download failed; the message names the URL and the cause."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot download {url}: {cause}")
        self.url = url
        self.cause = cause


class ChecksumError(DownloadError):
    """The archive's size or MD5 does not match what the server announced."""


def archive_url(spec: DatasetSpec, settings: Settings) -> str:
    return f"{settings.grouplens_base_url.rstrip('/')}/{spec.archive}"


def ensure_dataset(spec: DatasetSpec, settings: Settings, *, progress: bool = True) -> Path:
    """The unpacked folder of ``spec``: a local copy, else the cache, else a fresh download."""
    local = settings.data_dir / spec.dirname
    if local.is_dir():
        return local
    cache = settings.resolved_download_dir
    folder = cache / spec.dirname
    if folder.is_dir():
        return folder
    archive = cache / spec.archive
    if not archive.is_file():
        download(archive_url(spec, settings), archive, progress=progress)
    try:
        return extract(archive, cache, spec.dirname)
    except DownloadError:
        archive.unlink(missing_ok=True)  # a bad archive must not look valid next time
        raise


def download(url: str, dest: Path, *, progress: bool = True, timeout: float = 30.0) -> Path:
    """Fetch ``url`` to ``dest``, resuming ``dest.part``; verify size and MD5; rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            expected_md5 = _fetch_md5(client, url + ".md5", url)
            digest = _fetch(client, url, part, progress=progress)
    except httpx.HTTPError as exc:
        raise DownloadError(url, _describe(exc)) from exc
    if expected_md5 is not None and digest != expected_md5:
        part.unlink(missing_ok=True)
        raise ChecksumError(url, f"MD5 mismatch: expected {expected_md5}, got {digest}")
    os.replace(part, dest)
    return dest


def _describe(exc: httpx.HTTPError) -> str:
    kind = {
        httpx.ConnectError: "cannot connect (offline or host unreachable?)",
        httpx.TimeoutException: "timed out",
    }
    for cls, text in kind.items():
        if isinstance(exc, cls):
            return f"{text}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _fetch_md5(client: httpx.Client, md5_url: str, url: str) -> str | None:
    """The published MD5 of ``url``, or None (with a warning) when there is none."""
    response = client.get(md5_url)
    if response.status_code != 200:
        log.warning(
            "no checksum at %s (HTTP %d); verifying size only", md5_url, response.status_code
        )
        return None
    match = _MD5.search(response.text)
    if match is None:
        log.warning("unreadable checksum file %s; verifying size only", md5_url)
        return None
    return match.group(1).lower()


def _fetch(client: httpx.Client, url: str, part: Path, *, progress: bool) -> str:
    """Stream ``url`` into ``part`` (resuming when possible); return the file's MD5."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with client.stream("GET", url, headers=headers) as response:
        status = response.status_code
        if status == 416 and offset:  # stale .part (bigger than the file or done): restart
            log.info("server refused resuming %s at byte %d; restarting", url, offset)
            part.unlink()
            return _fetch(client, url, part, progress=progress)
        if status not in (200, 206):
            raise DownloadError(url, f"HTTP {status} {response.reason_phrase}")
        total = _content_length(response)
        if status == 206:
            start, total = _content_range(response, url)
            if start != offset:
                raise DownloadError(url, f"server resumed at byte {start}, not {offset}")
        elif offset:
            log.info("server ignored the Range request for %s; restarting", url)
            offset = 0
        md5 = hashlib.md5(usedforsecurity=False)
        with part.open("r+b" if offset else "wb") as out:
            _hash_prefix(out, md5, offset)
            out.truncate(offset)
            out.seek(offset)
            with tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=url.rsplit("/", 1)[-1],
                disable=not progress,
            ) as bar:
                for chunk in response.iter_raw(CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:  # keep the .part: the next call resumes it
        raise DownloadError(url, f"incomplete: got {size} of {total} bytes")
    if total is not None and size > total:
        part.unlink()
        raise ChecksumError(url, f"size mismatch: expected {total} bytes, got {size}")
    return md5.hexdigest()


def _hash_prefix(out: BinaryIO, md5: hashlib._Hash, length: int) -> None:
    """Feed the first ``length`` bytes already on disk into ``md5``."""
    out.seek(0)
    remaining = length
    while remaining:
        block = out.read(min(CHUNK * 16, remaining))
        if not block:
            break
        md5.update(block)
        remaining -= len(block)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _content_range(response: httpx.Response, url: str) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None or match.group(1) is None:
        raise DownloadError(url, "partial response without a usable Content-Range")
    total = match.group(3)
    return int(match.group(1)), (int(total) if total != "*" else None)


def extract(archive: Path, cache: Path, dirname: str) -> Path:
    """Unpack ``archive`` into ``cache/dirname`` atomically, refusing unsafe members."""
    target = cache / dirname
    tmp = Path(tempfile.mkdtemp(prefix=f".{dirname}-", dir=cache))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                _check_members(zf, archive)
                zf.extractall(tmp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
            raise DownloadError(str(archive), f"broken archive: {exc}") from exc
        inner = tmp / dirname
        source = inner if inner.is_dir() else tmp  # archives without a top folder
        os.replace(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _check_members(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        name = info.filename
        parts = Path(name.replace("\\", "/")).parts
        mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or ".." in parts or ":" in name or stat.S_ISLNK(mode):
            raise DownloadError(str(archive), f"unsafe member {name!r} in archive")
