"""The MovieLens releases Kryptonite knows: archive name, file format, encoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Layout = Literal["csv", "dat", "100k"]


@dataclass(frozen=True)
class DatasetSpec:
    """How one MovieLens release is packaged."""

    name: str
    layout: Layout
    encoding: str = "utf-8"
    #: Folder name inside the GroupLens zip (and under the data dir).
    folder: str = ""

    @property
    def archive(self) -> str:
        return f"{self.name}.zip"

    @property
    def dirname(self) -> str:
        return self.folder or self.name


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("ml-latest-small", "csv"),
        DatasetSpec("ml-latest", "csv"),
        DatasetSpec("ml-20m", "csv"),
        DatasetSpec("ml-25m", "csv"),
        DatasetSpec("ml-32m", "csv"),
        DatasetSpec("ml-1m", "dat", encoding="iso-8859-1"),
        DatasetSpec("ml-10m", "dat", encoding="iso-8859-1", folder="ml-10M100K"),
        DatasetSpec("ml-100k", "100k", encoding="iso-8859-1"),
    )
}


class UnknownDatasetError(ValueError):
    """The name is not a MovieLens release we know."""


def get_spec(name: str) -> DatasetSpec:
    """The spec for ``name``; synthetic sets written by ``datasets synth`` use the csv layout."""
    try:
        return DATASETS[name]
    except KeyError:
        if name.startswith("synth"):
            return DatasetSpec(name, "csv")
        known = ", ".join(sorted(DATASETS))
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {known}, synth-*") from None
