"""``python -m tkw_local.provision``: a standalone moto server with template.yaml's resources.

For ``sam local start-api`` where Docker exists: the functions run in containers and reach this
server through ``AWS_ENDPOINT_URL`` from ``sam-local-env.json``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from tkw_local.backend import Resolver, create_resources, parameters_from_env, serialise_dynamodb, use_endpoint
from tkw_local.template import Template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tkw-moto", description=__doc__)
    parser.add_argument("--template", type=Path, default=Path(__file__).resolve().parent.parent / "template.yaml")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - containers must reach it
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    serialise_dynamodb()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    use_endpoint(f"http://127.0.0.1:{args.port}")
    template = Template.read(args.template)
    resolver = create_resources(template, Resolver(parameters=parameters_from_env(template)))
    print(json.dumps({"endpoint": f"http://127.0.0.1:{args.port}", "resources": resolver.physical}, indent=2))
    print("moto is serving; point sam local at it with --env-vars sam-local-env.json (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
