"""Serves the simulated Kubernetes cluster (see clusters/sandbox) until interrupted."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from clusters.sandbox.server import SandboxCluster


class Command(BaseCommand):
    help = (
        "Serve the sandbox cluster: a simulated Kubernetes API with OLM and the memcached operator."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8701)))
        parser.add_argument("--token", default=os.environ.get("SANDBOX_TOKEN", "sandbox-token"))
        parser.add_argument(
            "--tick", type=float, default=1.0, help="seconds between controller steps"
        )
        parser.add_argument(
            "--state-file",
            default=str(Path(settings.DATA_DIR) / "sandbox-state.json"),
            help="where the cluster's objects survive restarts ('' keeps them in memory)",
        )

    def handle(self, *args, host, port, token, tick, state_file, **options):
        sandbox = SandboxCluster(
            host=host, port=port, token=token, tick_interval=tick, state_file=state_file or None
        )
        self.stdout.write(f"Sandbox cluster serving the Kubernetes API on http://{host}:{port}")
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()
