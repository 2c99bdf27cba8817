#!/usr/bin/env bash
# Starts the whole product on the embedded default: SQLite, Celery worker + beat on
# kombu's filesystem broker, all supervised by honcho. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
export WEB_HOST="${WEB_HOST:-127.0.0.1}"
export WEB_PORT="${WEB_PORT:-8000}"
export SANDBOX_PORT="${SANDBOX_PORT:-8701}"
export SANDBOX_TOKEN="${SANDBOX_TOKEN:-sandbox-token}"
# Extra catalog images for the sandbox: "IMAGE=FOLDER,IMAGE=FOLDER" (community-operators
# layout or File-Based Catalog folders); read by `python -m sandbox`.
export SANDBOX_CATALOGS="${SANDBOX_CATALOGS:-}"
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONUNBUFFERED=1

mkdir -p "${DATA_DIR:-var}"
# The sandbox serves HTTPS with its own CA (kubectl sends bearer tokens over HTTPS only);
# made once and kept under var/, trusted by the demo cluster and by the kubeconfig below.
export SANDBOX_TLS_DIR="${DATA_DIR:-var}/sandbox-tls"
export SANDBOX_CA_FILE="$(python -m sandbox.tls "$SANDBOX_TLS_DIR")"
export SANDBOX_KUBECONFIG="${DATA_DIR:-var}/sandbox.kubeconfig"
python manage.py migrate --noinput
python manage.py seed_demo

cat <<BANNER

  Operator Marketplace is starting on  http://${WEB_HOST}:${WEB_PORT}/
  Demo logins (password: demo):
    admin     platform admin (approvals, clusters)
    provider  provider tenant zs-olm (asset management)
    buyer     buyer tenant zs2-corp with projects my-mem and two
  Sandbox cluster (simulated Kubernetes + OLM): https://127.0.0.1:${SANDBOX_PORT}
    kubectl: export KUBECONFIG=$(realpath -m "$SANDBOX_KUBECONFIG")
    catalog images: the seed's memcached-registry:v1, quay.io/sandbox/community-catalog:v1,
    quay.io/sandbox/fbc-catalog:v1${SANDBOX_CATALOGS:+, and $SANDBOX_CATALOGS}
  API docs: http://${WEB_HOST}:${WEB_PORT}/api/docs/     Ctrl-C stops everything.

BANNER

exec honcho -f Procfile.dev start
