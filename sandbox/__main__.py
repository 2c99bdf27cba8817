"""Run the sandbox cluster standalone: `python -m sandbox --port 6443`.

Extra catalog images: `--catalog IMAGE=FOLDER` (repeatable), or, when no
`--catalog` is given, `SANDBOX_CATALOGS="IMAGE=FOLDER,IMAGE=FOLDER"`.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

from .catalog import CatalogError, parse_catalog_specs
from .server import SandboxCluster
from .tls import ensure_certificates, write_kubeconfig


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
    parser.add_argument(
        "--tls-dir",
        default=None,
        metavar="DIR",
        help="serve HTTPS with a CA made on first start and kept in DIR (kubectl sends "
        "bearer tokens over HTTPS only)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        metavar="FILE",
        help="write a kubeconfig for this sandbox to FILE (server, CA data, token)",
    )
    parser.add_argument(
        "--no-processes",
        action="store_true",
        help="run nothing for real: no memcached, routers or Service listeners (all simulated)",
    )
    parser.add_argument(
        "--max-processes",
        type=int,
        default=None,
        help="at most this many containers run for real (default: $SANDBOX_MAX_PROCESSES or 40)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        folders = parse_catalog_specs(args.catalog or os.environ.get("SANDBOX_CATALOGS", ""))
    except ValueError as exc:
        parser.error(str(exc))
    cert_file: str | None = None
    key_file: str | None = None
    certificates = None
    if args.tls_dir:
        try:
            certificates = ensure_certificates(args.tls_dir)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            print(f"sandbox: cannot make TLS certificates: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        cert_file, key_file = str(certificates.cert_file), str(certificates.key_file)
    try:
        cluster = SandboxCluster(
            host=args.host,
            port=args.port,
            token=args.token,
            tick_interval=args.tick,
            catalog_file=args.catalog_file,
            state_file=args.state_file,
            catalog_folders=folders,
            tls_cert_file=cert_file,
            tls_key_file=key_file,
            run_processes=not args.no_processes,
            max_processes=args.max_processes,
        )
    except CatalogError as exc:
        print(f"sandbox: cannot load catalog: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cluster.start()
    print(f"sandbox cluster serving at {cluster.url} (token: {args.token})", flush=True)
    print(
        f"sandbox network: 127.{cluster.network.base}.0.0/16 "
        f"({'memcached, routers and Services run for real' if cluster.network.active else 'nothing runs for real'})",
        flush=True,
    )
    if args.kubeconfig:
        if certificates is None:
            print("sandbox: --kubeconfig needs --tls-dir (kubectl sends tokens over HTTPS only)")
        else:
            written = write_kubeconfig(
                args.kubeconfig, server=cluster.url, ca_file=certificates.ca_file, token=args.token
            )
            print(f"kubeconfig: export KUBECONFIG={written.resolve()}", flush=True)
    cluster.serve_forever()


if __name__ == "__main__":
    main()
