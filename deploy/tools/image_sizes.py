"""Estimate each image's installed size from its lock (``make chart-check`` prints it).

For every ``name==version`` of ``deploy/requirements/<image>.txt`` the installed size is
read from the RECORD of that distribution in the running environment (the dev venv holds
every image's packages at the locked versions); packages that are not installed, or at
another version, are listed as unmeasured. The base image and the application are added
as constants. Usage::

    python deploy/tools/image_sizes.py [--max-mb gateway=350] [IMAGE ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "deploy" / "requirements"
IMAGES = ("gateway", "serving", "jobs")
#: python:3.11-slim-bookworm uncompressed (``docker image ls``), about; re-measure when the
#: digest in deploy/Dockerfile is refreshed.
BASE_MB = 130.0
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?: ; ([^\\]+))?", re.M)


def locked(image: str) -> dict[str, str]:
    """``{name: version}`` pinned by the lock of ``image`` whose markers hold here."""
    text = (LOCKS / f"{image}.txt").read_text()
    return {
        name: version
        for name, version, marker in PIN.findall(text)
        if not marker or Marker(marker.strip()).evaluate()
    }


def installed_bytes(name: str, version: str) -> int | None:
    """Bytes the installed distribution occupies, or None if absent / another version."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if dist.version.split("+")[0] != version.split("+")[0]:
        return None
    total = 0
    for file in dist.files or []:
        if file.size is not None:
            total += file.size
        else:
            path = Path(str(file.locate()))
            total += path.stat().st_size if path.is_file() else 0
    return total


def estimate(image: str) -> tuple[float, list[tuple[str, float]], list[str]]:
    """(total MB, the five biggest packages, unmeasured packages) of ``image``."""
    sizes: dict[str, float] = {}
    missing = []
    for name, version in locked(image).items():
        size = installed_bytes(name, version)
        if size is None:
            missing.append(f"{name}=={version}")
        else:
            sizes[name] = size / 1e6
    biggest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    return BASE_MB + sum(sizes.values()), biggest, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", default=list(IMAGES))
    parser.add_argument("--max-mb", action="append", default=[], help="IMAGE=MB budget")
    args = parser.parse_args(argv)
    budgets = {k: float(v) for k, v in (item.split("=") for item in args.max_mb)}
    failed = False
    for image in args.images:
        total, biggest, missing = estimate(image)
        top = ", ".join(f"{n} {mb:.0f}" for n, mb in biggest)
        line = f"image {image}: ~{total:.0f} MB installed (base {BASE_MB:.0f} + packages; {top})"
        if missing:
            line += f"; unmeasured (not installed here): {', '.join(missing)}"
        budget = budgets.get(image)
        if budget is not None:
            ok = total <= budget
            failed |= not ok
            line += f" [budget {budget:.0f} MB: {'ok' if ok else 'OVER'}]"
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
