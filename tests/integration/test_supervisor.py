"""The demo supervisor with real child processes: ready, exits, stalls, dies later."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.conftest import ROOT

from kryptonite.supervisor import ServiceError, check_ports, running, watch

READY_SERVER = textwrap.dedent(
    """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ready", "checks": {"database": "ok"}}).encode()
            self.send_response(200); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    print("listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python(code: str, *args: str):
    return lambda _service: [sys.executable, "-c", code, *args]


def test_ready_children_are_yielded_then_a_death_is_named(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    with running(
        ["gateway"], url, log_dir=tmp_path, command=_python(READY_SERVER, str(port))
    ) as children:
        assert [c.name for c in children] == ["gateway"]
        assert children[0].process.poll() is None
        children[0].process.kill()
        with pytest.raises(ServiceError) as err:
            watch(children, poll_s=0.1)
    message = str(err.value)
    assert message.startswith("gateway was killed by SIGKILL after start-up: listening")
    assert str(tmp_path / "gateway.log") in message and "\n" not in message


def test_a_child_that_exits_during_start_up_is_named_with_its_last_log_line(
    tmp_path: Path,
) -> None:
    code = "import sys; print('loading'); print('OSError: bad model dir', flush=True); sys.exit(3)"
    url = f"http://127.0.0.1:{_free_port()}/readyz"
    with pytest.raises(ServiceError) as err:
        with running(["ranking"], url, log_dir=tmp_path, command=_python(code)):
            pytest.fail("must not become ready")
    message = str(err.value)
    assert message.startswith("ranking exited with code 3 during start-up: OSError: bad model")
    assert f"(log: {tmp_path / 'ranking.log'})" in message and "\n" not in message


def test_start_up_waits_while_a_child_makes_progress_and_fails_when_it_stalls(
    tmp_path: Path,
) -> None:
    # logs a line every 0.3 s for ~2 s (progress), then sleeps silently (a stall)
    code = "import time\nfor i in range(7):\n print(i, flush=True); time.sleep(0.3)\ntime.sleep(60)"
    url = f"http://127.0.0.1:{_free_port()}/readyz"
    said: list[str] = []
    start = time.monotonic()
    with pytest.raises(ServiceError) as err:
        with running(
            ["content"],
            url,
            log_dir=tmp_path,
            stall_s=1.0,
            tick_s=0.5,
            say=said.append,
            command=_python(code),
        ):
            pytest.fail("must not become ready")
    took = time.monotonic() - start
    assert took > 2.5, "failed while the child was still making progress"
    assert str(err.value) == (
        "content made no progress for 1s during start-up, waiting for gateway "
        f"(log: {tmp_path / 'content.log'})"
    )
    assert said and all(line.startswith("waiting for gateway (") for line in said)


NOT_READY_SERVER = READY_SERVER.replace('{"database": "ok"}', '{"ranking": "not_serving"}').replace(
    "def log_message(self, *a): pass", "def log_message(self, *a): print('GET /readyz', flush=True)"
)


def test_a_stalled_dependency_is_named_though_the_gateway_keeps_logging(tmp_path: Path) -> None:
    port = _free_port()
    commands = {
        "ranking": [sys.executable, "-c", "import time; time.sleep(60)"],
        "gateway": [sys.executable, "-c", NOT_READY_SERVER, str(port)],
    }
    with pytest.raises(ServiceError) as err:
        with running(
            ["ranking", "gateway"],
            f"http://127.0.0.1:{port}/readyz",
            log_dir=tmp_path,
            stall_s=2.0,
            command=commands.__getitem__,
        ):
            pytest.fail("must not become ready")
    assert str(err.value) == (
        "ranking made no progress for 2s during start-up, waiting for ranking "
        f"(log: {tmp_path / 'ranking.log'})"
    )
    assert "GET /readyz" in (tmp_path / "gateway.log").read_text()


def test_a_taken_port_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServiceError, match=f"gateway: port 127.0.0.1:{port} is in use"):
            check_ports({"gateway": ("127.0.0.1", port)})
    check_ports({"gateway": ("127.0.0.1", port)})  # free again


def test_demo_prints_one_line_when_the_gateway_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "services"),
            "KRYPTONITE_HOME": str(tmp_path),
            "KRYPTONITE_GATEWAY_PORT": str(port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "kryptonite", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: gateway: port 127.0.0.1:{port} is in use by another process "
        "(stop it or set KRYPTONITE_GATEWAY_PORT)"
    ]
    assert not (tmp_path / "kryptonite.sqlite").exists(), "it should fail before any work"
