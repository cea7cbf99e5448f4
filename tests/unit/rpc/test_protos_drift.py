"""Generated code must match the .proto files, and the contracts must stay documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kryptonite.rpc import codegen
from kryptonite.rpc.generated.v1 import candidates_pb2, content_pb2, ranking_pb2

PROTOS = sorted((codegen.PROTOS_DIR / "kryptonite").rglob("*.proto"))
_DECLARATION = re.compile(
    r"^\s*(message|enum|service|rpc)\s|^\s*(repeated |optional )?[\w.]+\s+\w+\s*=\s*\d+;"
)


def test_generated_code_matches_protos() -> None:
    diffs = codegen.check()
    assert not diffs, "generated code is stale, run `make protos`:\n" + "".join(diffs)[:4000]


def test_check_detects_drift(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    codegen.generate(out)
    assert codegen.check(out) == []
    stale = out / "v1" / "ranking_pb2.py"
    stale.write_text(stale.read_text() + "# edited by hand\n")
    assert codegen.main(["--check", "--out", str(out)]) == 1


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: p.name)
def test_every_declaration_is_documented(proto: Path) -> None:
    lines = proto.read_text().splitlines()
    undocumented = [
        f"{proto.name}:{n + 1}: {line.strip()}"
        for n, line in enumerate(lines)
        if _DECLARATION.match(line) and not lines[n - 1].strip().startswith("//")
    ]
    assert not undocumented, "\n".join(undocumented)


@pytest.mark.parametrize("module", [candidates_pb2, ranking_pb2, content_pb2])
def test_every_response_carries_model_version(module: object) -> None:
    messages = module.DESCRIPTOR.message_types_by_name  # type: ignore[attr-defined]
    responses = [m for name, m in messages.items() if name.endswith("Response")]
    assert responses
    for message in responses:
        field = message.fields_by_name.get("model_version")
        assert field is not None and field.type == field.TYPE_STRING, message.full_name
