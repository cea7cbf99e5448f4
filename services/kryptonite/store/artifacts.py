"""Artifact store: immutable, versioned model directories in a local dir or S3.

Layout under the root (a path, or ``s3://bucket/prefix``)::

    <model_type>/<version>/manifest.json   model type, version, created, params, metrics,
                                            data fingerprint, files
    <model_type>/<version>/params.json + weights.npz   (see models.base)

    <model_type>/CURRENT                  the version the promotion gate made current

The manifest is written last, so a version without one is incomplete and ignored.
Versions sort by name (UTC timestamp first), so "latest" is the greatest complete one;
"current" is what readers serve: the CURRENT pointer, or the latest when none was written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the gateway reads versions only: no numpy/scipy in its image
    from kryptonite.models.base import Recommender

MANIFEST = "manifest.json"
CURRENT_POINTER = "CURRENT"


class ArtifactError(RuntimeError):
    """A version is missing, incomplete, or would be overwritten."""


@dataclass
class Manifest:
    model_type: str
    version: str
    created: str
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    #: Hash of the model code that produced it (``pipeline.reuse.code_fingerprint``).
    code_fingerprint: str = ""
    files: list[str] = field(default_factory=list)
    uri: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:6]}"


class ArtifactStore:
    """Base: subclasses move whole version directories in and out."""

    root: str

    # -- backend hooks
    def _exists(self, key: str) -> bool:
        raise NotImplementedError

    def _put_dir(self, local: Path, key: str, files: list[str]) -> None:
        raise NotImplementedError

    def _get_text(self, key: str) -> str:
        raise NotImplementedError

    def _get_dir(self, key: str, files: list[str], dest: Path) -> None:
        raise NotImplementedError

    def _list_children(self, key: str) -> list[str]:
        raise NotImplementedError

    def _delete_dir(self, key: str, files: list[str]) -> None:
        raise NotImplementedError

    def _put_text(self, key: str, text: str) -> None:
        raise NotImplementedError

    # -- API
    def uri(self, model_type: str, version: str) -> str:
        return f"{self.root.rstrip('/')}/{model_type}/{version}"

    def publish(
        self,
        model: Recommender,
        *,
        metrics: dict[str, Any] | None = None,
        data_fingerprint: str = "",
        code_fingerprint: str = "",
        version: str | None = None,
        on_published: Callable[[Manifest], None] | None = None,
    ) -> Manifest:
        """Save ``model`` as a new immutable version; call ``on_published`` when complete."""
        version = version or new_version()
        key = f"{model.model_type}/{version}"
        if self._exists(f"{key}/{MANIFEST}"):
            raise ArtifactError(f"version {key} already exists; artifacts are immutable")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp)
            model.save(local)
            files = sorted(p.name for p in local.iterdir())
            manifest = Manifest(
                model_type=model.model_type,
                version=version,
                created=datetime.now(UTC).isoformat(),
                params=model.params.to_dict(),
                metrics=metrics or {},
                data_fingerprint=data_fingerprint,
                code_fingerprint=code_fingerprint,
                files=files,
                uri=self.uri(model.model_type, version),
            )
            (local / MANIFEST).write_text(manifest.to_json())
            self._put_dir(local, key, [*files, MANIFEST])
        if on_published is not None:
            on_published(manifest)
        return manifest

    def versions(self, model_type: str) -> list[str]:
        """Complete versions of a type, oldest first."""
        return sorted(
            v
            for v in self._list_children(model_type)
            if self._exists(f"{model_type}/{v}/{MANIFEST}")
        )

    def latest(self, model_type: str) -> str | None:
        found = self.versions(model_type)
        return found[-1] if found else None

    def prune(self, model_type: str, keep: int, protect: Collection[str] = ()) -> list[str]:
        """Delete all but the newest ``keep`` complete versions of ``model_type``; the
        latest and every version in ``protect`` (e.g. the current one) always stay.
        Returns the versions deleted, oldest first."""
        found = self.versions(model_type)
        keep_set = set(found[-max(keep, 1) :]) | set(protect)
        doomed = [v for v in found if v not in keep_set]
        for version in doomed:
            manifest = self.manifest(model_type, version)
            self._delete_dir(f"{model_type}/{version}", [MANIFEST, *manifest.files])
        return doomed

    def current(self, model_type: str) -> str | None:
        """The version to serve: the CURRENT pointer, else the latest complete version."""
        key = f"{model_type}/{CURRENT_POINTER}"
        if self._exists(key):
            version = self._get_text(key).strip()
            if version and self._exists(f"{model_type}/{version}/{MANIFEST}"):
                return version
        return self.latest(model_type)

    def set_current(self, model_type: str, version: str) -> None:
        """Point CURRENT at a complete ``version`` (written atomically)."""
        if not self._exists(f"{model_type}/{version}/{MANIFEST}"):
            raise ArtifactError(f"no complete version {model_type}/{version} in {self.root}")
        self._put_text(f"{model_type}/{CURRENT_POINTER}", version)

    def manifest(self, model_type: str, version: str) -> Manifest:
        key = f"{model_type}/{version}/{MANIFEST}"
        if not self._exists(key):
            raise ArtifactError(f"no complete version {model_type}/{version} in {self.root}")
        return Manifest.from_json(self._get_text(key))

    def fetch(self, model_type: str, version: str, dest: Path) -> Path:
        """Copy a version's files to ``dest`` (a new directory) and return it."""
        manifest = self.manifest(model_type, version)
        dest.mkdir(parents=True, exist_ok=True)
        self._get_dir(f"{model_type}/{version}", [*manifest.files, MANIFEST], dest)
        return dest

    def load(self, model_type: str, version: str | None = None, cache_dir: Path | None = None):
        """Load a version (default: the current) of ``model_type`` -> (model, manifest)."""
        version = version or self.current(model_type)
        if version is None:
            raise ArtifactError(f"no published version of {model_type!r} in {self.root}")
        manifest = self.manifest(model_type, version)
        cache = cache_dir or Path(tempfile.mkdtemp(prefix="kryptonite-artifact-"))
        path = self.fetch(model_type, version, cache / model_type / version)
        from kryptonite.models.registry import load_model

        return load_model(path), manifest


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path | str) -> None:
        self.path = Path(root)
        self.root = str(self.path)

    def _exists(self, key: str) -> bool:
        return (self.path / key).exists()

    def _put_dir(self, local: Path, key: str, files: list[str]) -> None:
        target = self.path / key
        staging = target.parent / f".{target.name}.tmp"
        staging.mkdir(parents=True, exist_ok=False)
        for name in files:
            shutil.copy2(local / name, staging / name)
        staging.rename(target)  # atomic on one filesystem

    def _get_text(self, key: str) -> str:
        return (self.path / key).read_text()

    def _get_dir(self, key: str, files: list[str], dest: Path) -> None:
        for name in files:
            shutil.copy2(self.path / key / name, dest / name)

    def _put_text(self, key: str, text: str) -> None:
        target = self.path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        staging.write_text(text)
        staging.replace(target)  # atomic on one filesystem

    def _list_children(self, key: str) -> list[str]:
        d = self.path / key
        return (
            [p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
            if d.exists()
            else []
        )

    def _delete_dir(self, key: str, files: list[str]) -> None:
        target = self.path / key
        trash = target.parent / f".{target.name}.deleting"
        target.rename(trash)  # atomic: the version disappears at once
        shutil.rmtree(trash)


class S3ArtifactStore(ArtifactStore):
    """``s3://bucket/prefix`` through boto3 (any S3-compatible endpoint)."""

    def __init__(self, uri: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, prefix = uri[5:].partition("/")
        self.bucket, self.prefix, self.root = bucket, prefix.strip("/"), uri.rstrip("/")
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.s3 = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _exists(self, key: str) -> bool:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return any(o["Key"] == self._key(key) for o in resp.get("Contents", []))

    def _put_dir(self, local: Path, key: str, files: list[str]) -> None:
        for name in files:  # manifest is last in ``files``: the version appears complete
            self.s3.upload_file(str(local / name), self.bucket, self._key(f"{key}/{name}"))

    def _get_text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read().decode()

    def _get_dir(self, key: str, files: list[str], dest: Path) -> None:
        for name in files:
            self.s3.download_file(self.bucket, self._key(f"{key}/{name}"), str(dest / name))

    def _put_text(self, key: str, text: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=text.encode())

    def _list_children(self, key: str) -> list[str]:
        prefix = self._key(key).rstrip("/") + "/"
        out: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            out += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return out

    def _delete_dir(self, key: str, files: list[str]) -> None:
        for name in files:  # manifest first: the version is incomplete (ignored) at once
            self.s3.delete_object(Bucket=self.bucket, Key=self._key(f"{key}/{name}"))


def open_store(uri: str, *, endpoint_url: str | None = None) -> ArtifactStore:
    """A store for a local path or ``s3://bucket/prefix``."""
    if uri.startswith("s3://"):
        return S3ArtifactStore(uri, endpoint_url=endpoint_url)
    return LocalArtifactStore(uri)


def load_artifact(
    uri: str, *, endpoint_url: str | None = None, cache_dir: Path | None = None
) -> tuple[Recommender, Manifest]:
    """Load ``<root>/<model_type>/<version>`` (a manifest's ``uri``; local or s3://)."""
    root, model_type, version = uri.rstrip("/").rsplit("/", 2)
    return open_store(root, endpoint_url=endpoint_url).load(model_type, version, cache_dir)


def store_from_settings(settings: Any) -> ArtifactStore:
    return open_store(settings.resolved_artifact_uri, endpoint_url=settings.s3_endpoint_url)
