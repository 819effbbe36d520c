"""The Docker-less local runner started as `make run` starts it, for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from bars_support import BASE, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Emulator:
    """A running local runner: ``base`` is the BaRS base URL, ``root`` the server root."""

    root: str
    process: subprocess.Popen[bytes]
    # The runner's stdout, read as it comes: an unread pipe fills (64 KB, a few hundred request
    # lines) and then blocks the runner mid-request.
    _lines: list[bytes] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def output(self) -> str:
        """Everything the runner printed so far (its logs)."""
        return b"".join(list(self._lines)).decode("utf-8", "replace")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self._lines.append(line)

    @property
    def base(self) -> str:
        return self.root + BASE

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30,
    ) -> HttpResult:
        url = path if path.startswith("http") else self.root + path
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return HttpResult(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as err:
            return HttpResult(err.code, dict(err.headers.items()), err.read())

    def bars(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> HttpResult:
        return self.request(method, BASE + path, headers, body)


def start_emulator(extra_env: dict[str, str] | None = None) -> Emulator:
    port = free_port()
    env = {**os.environ, "PORT": str(port), **(extra_env or {})}
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tkw_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    emulator = Emulator(root=f"http://127.0.0.1:{port}", process=process)
    emulator._reader = threading.Thread(target=emulator._drain, daemon=True, name="emulator-stdout")
    emulator._reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            emulator._reader.join(timeout=5)
            raise RuntimeError(f"the local runner exited early:\n{emulator.output()}")
        try:
            if emulator.bars("GET", "/_ping").status == 200:
                return emulator
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the local runner did not answer /_ping within 60 s")


def stop_emulator(emulator: Emulator) -> str:
    """Stop the runner; returns everything it printed."""
    emulator.process.send_signal(signal.SIGTERM)
    emulator.process.wait(timeout=30)
    if emulator._reader is not None:
        emulator._reader.join(timeout=10)
    return emulator.output()
