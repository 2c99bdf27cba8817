"""Run the sandbox cluster standalone: `python -m sandbox --port 6443`.

Extra catalog images: `--catalog IMAGE=FOLDER` (repeatable), or, when no
`--catalog` is given, `SANDBOX_CATALOGS="IMAGE=FOLDER,IMAGE=FOLDER"`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .catalog import CatalogError, parse_catalog_specs
from .server import SandboxCluster


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated Kubernetes API server with OLM.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6443)
    parser.add_argument("--token", default="secret", help="bearer token clients must send")
    parser.add_argument("--tick", type=float, default=0.2, help="controller tick interval (s)")
    parser.add_argument("--state-file", default=None, help="persist the cluster state here")
    parser.add_argument("--catalog-file", default=None, help="catalog YAML (default: built-in)")
    parser.add_argument(
        "--catalog",
        action="append",
        default=[],
        metavar="IMAGE=FOLDER",
        help="serve index image IMAGE from FOLDER (community bundle layout or File-Based "
        "Catalog); repeatable; default: $SANDBOX_CATALOGS (comma-separated IMAGE=FOLDER)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        folders = parse_catalog_specs(args.catalog or os.environ.get("SANDBOX_CATALOGS", ""))
    except ValueError as exc:
        parser.error(str(exc))
    try:
        cluster = SandboxCluster(
            host=args.host,
            port=args.port,
            token=args.token,
            tick_interval=args.tick,
            catalog_file=args.catalog_file,
            state_file=args.state_file,
            catalog_folders=folders,
        )
    except CatalogError as exc:
        print(f"sandbox: cannot load catalog: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cluster.start()
    print(f"sandbox cluster serving at {cluster.url} (token: {args.token})", flush=True)
    cluster.serve_forever()


if __name__ == "__main__":
    main()
