"""The README's configuration table documents every setting, and only real ones."""

from __future__ import annotations

import re

from tests.conftest import ROOT

from kryptonite.config import Settings


def _table_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| variable | default | meaning |") :]
    table = table[: table.index("\n\n")]
    return set(re.findall(r"^\| `(KRYPTONITE_[A-Z0-9_]+)`", table, flags=re.MULTILINE))


def test_every_setting_is_in_the_readme_table() -> None:
    fields = {f"KRYPTONITE_{name.upper()}" for name in Settings.model_fields}
    documented = _table_variables()
    assert fields - documented == set(), "settings missing from README's table"
    assert documented - fields == set(), "README documents variables that do not exist"
