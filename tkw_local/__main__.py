"""``python -m tkw_local``: serve template.yaml on 127.0.0.1:${PORT:-3000}, moto embedded."""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from logging.handlers import QueueHandler
from pathlib import Path

from tkw_local.server import LocalApi, serve

BASE = "/booking-and-referral/FHIR/R4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tkw-local", description=__doc__)
    parser.add_argument("--template", type=Path, default=Path(__file__).resolve().parent.parent / "template.yaml")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("TKW_AWS_ENDPOINT"),
        help="use this AWS endpoint (e.g. a standalone moto server) instead of an embedded one",
    )
    args = parser.parse_args(argv)
    # On your own machine, receiver runs may target loopback (a receiver you run locally, or this
    # emulator's own BaRS API); a deployed stack keeps the template default, false.
    os.environ.setdefault("ALLOW_PRIVATE_RECEIVERS", "true")

    stop_logging = _log_to_stdout()
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    api = LocalApi(template_path=args.template)
    api.start(aws_endpoint=args.aws_endpoint)
    server = serve(api, args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger("tkw.local").info("stopping (%s)", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    mode = os.environ.get("AUTH_MODE", "sandbox")
    print(f"tkw-emulator serving http://{host}:{port}{BASE} (auth mode: {mode}; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        api.stop()
        stop_logging()
    return 0


class _UnflushedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def flush(self) -> None:
        pass  # _log_to_stdout flushes once per batch of lines, not once per line


def _log_to_stdout() -> Callable[[], None]:
    """One line per request on stdout, formatted and written off the request threads five times a
    second, in batches: a flush per line cost senders ~10% of the runner's CPU, and a writer thread
    woken per line competes with the next request for the interpreter. Returns the stop."""
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _UnflushedStreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(QueueHandler(lines))
    stopped = threading.Event()

    def write_waiting_lines() -> None:
        while True:
            try:
                handler.handle(lines.get_nowait())
            except queue.Empty:
                break
        sys.stdout.flush()

    def write_now_and_then() -> None:
        while not stopped.wait(0.2):
            write_waiting_lines()

    writer = threading.Thread(target=write_now_and_then, name="log-writer", daemon=True)
    writer.start()

    def stop() -> None:
        stopped.set()
        writer.join(1)
        write_waiting_lines()

    return stop


if __name__ == "__main__":
    raise SystemExit(main())
