"""The per-workload images: hashed locks that match pyproject.toml, a Dockerfile that
installs them before the source, and import graphs that stay inside each image.

No docker daemon runs here: the Dockerfile is checked statically (and by checkov in
``make chart-check``); what each process imports is checked against the locks by
importing it for real in a fresh interpreter.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kryptonite.config import METRICS_PORTS, SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
LOCKS = ROOT / "deploy" / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
IMAGES = ("gateway", "serving", "jobs")
#: what the issue names outright: never in the gateway
NUMERIC = {"torch", "faiss-cpu", "scipy", "matplotlib", "numpy", "pandas", "scikit-learn"}
ENTRY = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;.*?)? \\\n((?:\s+--hash=\S+(?: \\)?\n)+)", re.M
)


@cache
def lock(image: str) -> dict[str, str]:
    """``{canonical name: version}`` of deploy/requirements/<image>.txt; every entry hashed."""
    text = (LOCKS / f"{image}.txt").read_text()
    entries = {canonicalize_name(n): v for n, v, _ in ENTRY.findall(text)}
    pins = re.findall(r"^[A-Za-z0-9][^\s=]*==", text, re.M)
    assert len(entries) == len(pins), f"{image}: an entry without --hash"
    return entries


def requirements(extra: str | None) -> list[Requirement]:
    """The pins an extra brings (recursively through ``kryptonite[...]``), core included."""
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    todo = [extra] if extra else []
    while todo:
        for raw in PYPROJECT["optional-dependencies"][todo.pop()]:
            req = Requirement(raw)
            if req.name == "kryptonite":
                todo += sorted(req.extras)
            else:
                reqs.append(req)
    return reqs


@pytest.mark.parametrize("image", IMAGES)
def test_lock_pins_what_pyproject_pins(image: str) -> None:
    locked = lock(image)
    for req in requirements(image):
        if req.marker is not None and not req.marker.evaluate({"sys_platform": "linux"}):
            continue
        (spec,) = req.specifier
        name = canonicalize_name(req.name)
        assert name in locked, f"{image}: {req.name} missing from the lock (run make lock)"
        assert locked[name].split("+")[0] == spec.version, f"{image}: {req.name} drifted"


def test_gateway_image_has_no_numeric_stack() -> None:
    assert not NUMERIC & set(lock("gateway")), "the gateway lock pulls in the model stack"
    assert {"torch", "faiss-cpu", "scipy"} <= set(lock("serving"))
    assert lock("serving")["torch"].endswith("+cpu"), "torch must be the CPU build"
    assert set(lock("gateway")) <= set(lock("jobs")) and set(lock("serving")) <= set(lock("jobs"))


def stages() -> dict[str, str]:
    """Dockerfile stage name -> its text."""
    parts = re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]
    return {re.search(r" AS (\S+)", p.splitlines()[0]).group(1): p for p in parts}  # type: ignore[union-attr]


def test_dockerfile_targets_install_locks_before_source() -> None:
    (base,) = re.findall(r"^FROM (\S+) AS python$", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    found = stages()
    exposed: set[int] = set()
    for image in IMAGES:
        deps = found[f"deps-{image}"]
        assert f"COPY deploy/requirements/{image}.txt" in deps
        install = " ".join(deps.split("RUN ", 1)[1].replace("\\\n", " ").split())
        for flag in (
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "-r /tmp/requirements.txt",
        ):
            assert flag in install, f"{image}: pip install without {flag}"
        final = found[image]
        lines = final.splitlines()
        venv = lines.index(f"COPY --from=deps-{image} /opt/venv /opt/venv")
        source = lines.index("COPY services/kryptonite /opt/app/kryptonite")
        assert venv < source, f"{image}: the dependency layer must come before the source"
        assert "USER 10001:10001" in lines and 'ENTRYPOINT ["kryptonite"]' in lines
        exposed |= (
            {int(p) for p in re.findall(r"^EXPOSE (.+)$", final, re.M)[0].split()}
            if ("EXPOSE" in final)
            else set()
        )
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    assert exposed == {*SERVICE_PORTS.values(), *METRICS_PORTS.values()}
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore is an allow-list"
    for src in re.findall(r"^COPY (?!--from)(\S+) \S+$", DOCKERFILE, re.M):
        assert any(src.startswith(a[1:].rstrip("/")) for a in ignore if a.startswith("!")), src


# --- what each process imports stays inside its image ---------------------------------

#: In a fresh interpreter, with every module its image lacks made unimportable (as in the
#: image): import the CLI as `kryptonite serve X` does, then the server of X (for the
#: gateway: the app, and the one lazy path it takes at start, model versions from the
#: artifact store). Prints the blocked modules something tried to import.
PROBE = """
import importlib.abc, json, sys, tempfile
blocked, tried = set(json.loads(sys.argv[2])), set()

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in blocked and top not in sys.modules:
            tried.add(top)
            raise ModuleNotFoundError(f"No module named {name!r} (not in this image)")
        return None

sys.meta_path.insert(0, Block())
import typer
from kryptonite.cli import app
typer.main.get_command(app)
from kryptonite.config import Settings
service = sys.argv[1]
if service == "gateway":
    from kryptonite.gateway import main, versions
    home = tempfile.mkdtemp()
    main.server(Settings(home=home))
    versions.latest_from_artifacts(Settings(home=home, artifact_uri=home))
else:
    import importlib
    importlib.import_module(f"kryptonite.{service}.main")
print(json.dumps(sorted(tried)))
"""
#: Optional imports that libraries attempt and do without (module -> who tries it).
OPTIONAL = {
    "click": "httpx (its CLI)",
    "charset_normalizer": "httpx (encoding detection)",
    "grpc_tools": "grpc (runtime protos)",
}


def absent_modules(image: str) -> set[str]:
    """Top-level modules installed here whose distribution is not in ``image``'s lock."""
    keep = set(lock(image)) | {"kryptonite"}
    return {
        module
        for module, dists in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & keep
    } - set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("service", "image"),
    [("gateway", "gateway"), *((name, "serving") for name in METRICS_PORTS)],
)
def test_process_imports_only_its_image(service: str, image: str) -> None:
    blocked = absent_modules(image)
    if image == "gateway":
        assert {"torch", "faiss", "scipy", "matplotlib", "numpy"} <= blocked
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, service, json.dumps(sorted(blocked))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(ROOT / "services"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, f"{service} fails without modules its image lacks:\n{proc.stderr}"
    tried = set(json.loads(proc.stdout.splitlines()[-1])) - set(OPTIONAL)
    assert not tried, f"{service} tries to import modules its image ({image}) lacks: {tried}"


def test_every_checkov_skip_has_a_reason() -> None:
    import yaml

    skips = yaml.safe_load((ROOT / "deploy" / "checkov.yaml").read_text())["skip"]
    assert skips, "deploy/checkov.yaml lists no checks"
    for check, reason in skips.items():
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check), check
        assert isinstance(reason, str) and len(reason.split()) >= 8, f"{check}: give a reason"
