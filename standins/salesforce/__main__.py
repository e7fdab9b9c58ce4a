"""Command line: ``python -m standins.salesforce serve --port 5200 --data org.db --cert-dir d``.

Sub-commands:

- ``serve [--host 127.0.0.1] [--port 5200] [--data PATH|:memory:] [--cert-dir DIR] [--seed]
  [--api-limit N] [--callback-url URL ...]``: serve over HTTPS until interrupted; prints the
  URL, the CA bundle to trust (``REQUESTS_CA_BUNDLE``) and the default OAuth client.
- ``certs --cert-dir DIR``: make the CA and server certificate unless valid ones are there
  (``make run`` runs it before starting anything; ``serve --reuse-certs`` then keeps them).
- ``generate SOBJECT COUNT --data PATH``: insert COUNT generated records into a store file.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from standins.salesforce import tls
from standins.salesforce.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from standins.salesforce.seed import generate
from standins.salesforce.server import build, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m standins.salesforce",
                                     description="A stand-in for a Salesforce org.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the org over HTTPS")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5200)
    run.add_argument("--data", default=":memory:", help="SQLite file (default: in memory)")
    run.add_argument("--cert-dir", default=".standin-certs",
                     help="where cert.pem (the CA to trust) is written")
    run.add_argument("--seed", action="store_true", help="load demo records if empty")
    run.add_argument("--api-limit", type=int, default=None, help="DailyApiRequests Max")
    run.add_argument("--callback-url", action="append", default=None,
                     help="allowed OAuth callback URL (repeat; default: any)")
    run.add_argument("--reuse-certs", action="store_true",
                     help="keep valid certificates already in --cert-dir")
    certs = commands.add_parser("certs", help="make the CA and server certificate if needed")
    certs.add_argument("--cert-dir", default=".standin-certs")
    gen = commands.add_parser("generate", help="bulk-insert generated records")
    gen.add_argument("sobject")
    gen.add_argument("count", type=int)
    gen.add_argument("--data", required=True, help="SQLite file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a sub-command; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "certs":
        print(f"trust {tls.ensure(args.cert_dir).ca_bundle} (REQUESTS_CA_BUNDLE)")
        return 0
    if args.command == "generate":
        org, _ = build(args.data)
        print(f"created {generate(org, args.sobject, args.count)} {args.sobject} records")
        org.close()
        return 0
    standin = serve(args.data, args.host, args.port, args.cert_dir, seed=args.seed,
                    api_limit=args.api_limit, callback_urls=args.callback_url,
                    reuse_certs=args.reuse_certs)
    print(f"Salesforce stand-in at {standin.url}", flush=True)
    print(f"  trust it with REQUESTS_CA_BUNDLE={standin.ca_bundle}")
    print(f"  OAuth client_id={DEFAULT_CLIENT_ID} client_secret={DEFAULT_CLIENT_SECRET}")
    print(f"  authorize at {standin.url}/services/oauth2/authorize", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
