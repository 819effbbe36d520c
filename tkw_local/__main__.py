"""``python -m tkw_local``: serve template.yaml on 127.0.0.1:${PORT:-3000}, moto embedded."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
