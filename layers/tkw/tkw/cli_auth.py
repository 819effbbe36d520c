"""``tkw auth``: key pairs, app registration and access tokens for the emulator (or API-M INT).

    keygen    write an RSA-4096 private/public PEM pair, print a suggested kid
    register  POST the public key and ODS codes to <url>/tkw/apps, print the answer (with the api_key)
    token     mint a client assertion, fetch a token from <url>/oauth2/token, print the access token

Defaults come from TKW_URL, TKW_API_KEY, TKW_KID and TKW_PRIVATE_KEY, so that
``curl -H "Authorization: Bearer $(tkw auth token)" ...`` works once they are set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tkw.auth import client

DEFAULT_URL = "http://127.0.0.1:3000"


def _keygen(args: argparse.Namespace) -> int:
    kid = args.kid or client.suggest_kid(args.supplier, args.environment, args.rotation)
    private_path = Path(args.private_key or f"{kid}.pem")
    public_path = Path(args.public_key or f"{kid}.pub.pem")
    for path in (private_path, public_path):
        if path.exists() and not args.force:
            print(f"{path} exists; use --force to overwrite it", file=sys.stderr)
            return 1
    private_pem, public_pem = client.generate_key_pair(args.bits)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(private_pem)
    os.chmod(private_path, 0o600)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_text(public_pem, encoding="ascii")
    print(f"private key: {private_path} (keep it secret)", file=sys.stderr)
    print(
        f"public key:  {public_path} (register it: tkw auth register --kid {kid} --public-key {public_path})",
        file=sys.stderr,
    )
    print(kid)
    return 0


def _register(args: argparse.Namespace) -> int:
    public_pem = Path(args.public_key).read_text(encoding="ascii")
    answer = client.register_app(args.url, args.name, args.kid, public_pem, args.ods_code)
    print(json.dumps(answer, indent=2))
    return 0


def _token(args: argparse.Namespace) -> int:
    missing = [name for name in ("api_key", "kid", "private_key") if not getattr(args, name)]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        print(f"missing {flags} (or TKW_API_KEY / TKW_KID / TKW_PRIVATE_KEY)", file=sys.stderr)
        return 2
    private_pem = Path(args.private_key).read_bytes()
    token = client.fetch_token(private_pem, args.kid, args.api_key, client.token_url_for(args.url))
    print(token.access_token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="tkw auth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    keygen = commands.add_parser("keygen", help="write an RSA key pair and print a suggested kid")
    keygen.add_argument("--supplier", default="MySupplier", help="for the kid <Supplier>-<Environment>-<rotation>")
    keygen.add_argument("--environment", default="INT")
    keygen.add_argument("--rotation", type=int, default=1)
    keygen.add_argument("--kid", help="use this kid instead of the suggested one")
    keygen.add_argument("--private-key", help="private key file (default <kid>.pem)")
    keygen.add_argument("--public-key", help="public key file (default <kid>.pub.pem)")
    keygen.add_argument("--bits", type=int, default=4096, choices=(2048, 3072, 4096))
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(run=_keygen)

    register = commands.add_parser("register", help="register a public key with the emulator (POST /tkw/apps)")
    register.add_argument("--url", default=env.get("TKW_URL", DEFAULT_URL), help="the emulator's URL (TKW_URL)")
    register.add_argument("--name", required=True, help="your application's name")
    register.add_argument("--kid", default=env.get("TKW_KID"), required="TKW_KID" not in env)
    register.add_argument("--public-key", required=True, help="the public key PEM file")
    register.add_argument(
        "--ods-code",
        action="append",
        required=True,
        metavar="ODS",
        help="an organisation the application acts for (repeat for more); in int mode its "
        "tokens see only these organisations' reports, runs and state",
    )
    register.set_defaults(run=_register)

    token = commands.add_parser("token", help="fetch an access token and print it")
    token.add_argument(
        "--url",
        default=env.get("TKW_URL", DEFAULT_URL),
        help="the emulator's (or API-M's) URL, or its token URL (TKW_URL)",
    )
    token.add_argument("--api-key", default=env.get("TKW_API_KEY"))
    token.add_argument("--kid", default=env.get("TKW_KID"))
    token.add_argument("--private-key", default=env.get("TKW_PRIVATE_KEY"), help="the private key PEM file")
    token.set_defaults(run=_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except client.TokenRequestError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
