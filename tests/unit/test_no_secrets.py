"""No secret in the repository: every file git tracks (or would add) is scanned with
detect-secrets (Yelp), its default plugins and filters as recorded in ``.secrets.baseline``.

A finding fails the test unless it is

* marked inline (``# pragma: allowlist secret``, or ``... nextline secret`` on the line
  before): the test-only keys and passwords, or
* in ``.secrets.baseline`` *and* audited there as not a secret (``"is_secret": false``):
  placeholders in docs and charts (``user:pw@host``), dev-only chart values.

Update the baseline after review with ``detect-secrets scan --baseline .secrets.baseline``
then ``detect-secrets audit .secrets.baseline``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.core import baseline as ds_baseline
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / ".secrets.baseline"


def repo_files(root: Path) -> list[str]:
    """Files git tracks plus untracked ones it does not ignore (what a commit could add)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(p for p in set(out.split("\0")) if p and (root / p).is_file())


def load_baseline(path: Path = BASELINE) -> dict:
    return ds_baseline.upgrade(json.loads(path.read_text()))


def find_secrets(root: Path, files: list[str], baseline: dict) -> list[str]:
    """Findings in ``files`` (relative to ``root``) not audited away in ``baseline``, as
    ``path:line: type`` (serial scan: no process pool inside pytest)."""
    with transient_settings(baseline):
        found = SecretsCollection(root=str(root))
        for name in files:
            found.scan_file(name)
        known = SecretsCollection.load_from_baseline(baseline)
    cleared = {
        (name, item["hashed_secret"])
        for name, items in baseline["results"].items()
        for item in items
        if item.get("is_secret") is False
    }
    new = found - known
    out = [
        f"{name}:{secret.line_number}: {secret.type}"
        for name, secret in new
        if (name, secret.secret_hash) not in cleared
    ]
    # A baselined finding nobody audited (or audited as real) fails too.
    out += [
        f"{name}:{secret.line_number}: {secret.type} (baselined but not audited as safe)"
        for name, secret in found
        if (name, secret.secret_hash) not in cleared and secret in known[name]
    ]
    return sorted(out)


def test_repository_has_no_secrets() -> None:
    files = repo_files(ROOT)
    assert len(files) > 100 and "pyproject.toml" in files
    findings = find_secrets(ROOT, files, load_baseline())
    assert not findings, "possible secrets (remove, or allowlist after review):\n" + "\n".join(
        findings
    )


def test_baseline_only_holds_audited_non_secrets() -> None:
    results = load_baseline()["results"]
    assert all(item.get("is_secret") is False for items in results.values() for item in items)
    assert not any(name.startswith(("services/", "tests/")) for name in results), (
        "code and tests mark their test-only values inline (pragma), not in the baseline"
    )


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A scratch folder with real-looking credentials (built here so that this file itself
    holds none) next to a clean file and an allowlisted line."""
    aws_id = "AKIA" + "QZ7TK4WM2XR9PLBV"
    aws_secret = "wJalrXUtnFEMI"  # pragma: allowlist secret + "/K7MDENG/bPxRfiCY" + "9sQ2vT7uLpZk"
    (tmp_path / "settings.py").write_text(
        f'AWS_ACCESS_KEY_ID = "{aws_id}"\naws_secret_access_key = "{aws_secret}"\n'
    )
    (tmp_path / "key.pem").write_text(
        "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
    )
    (tmp_path / "clean.py").write_text('GREETING = "hello"\n')
    (tmp_path / "fixture.py").write_text(f'KEY_ID = "{aws_id}"  # pragma: allowlist secret\n')
    return tmp_path


def test_scanner_catches_planted_secrets(planted: Path) -> None:
    files = ["settings.py", "key.pem", "clean.py", "fixture.py"]
    findings = find_secrets(planted, files, load_baseline())
    kinds = {line.split(": ", 1)[1] for line in findings}
    assert {"AWS Access Key", "Private Key"} <= kinds
    assert any(f.startswith("settings.py:1:") for f in findings)
    assert not any(f.startswith(("clean.py", "fixture.py")) for f in findings)


def test_unaudited_baseline_entry_still_fails(planted: Path) -> None:
    """Baselining a finding without auditing it as safe does not silence it."""
    base = load_baseline()
    with transient_settings(base):
        found = SecretsCollection(root=str(planted))
        found.scan_file("settings.py")
    base["results"] = ds_baseline.format_for_output(found)["results"]
    assert find_secrets(planted, ["settings.py"], base)
    for items in base["results"].values():
        for item in items:
            item["is_secret"] = False
    assert find_secrets(planted, ["settings.py"], base) == []
