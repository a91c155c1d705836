#!/usr/bin/env bash
# Runs the Python clients (generated from proto/ alone) against `cspr serve all` started here
# from the built binary, with its own databases and subject prefix; cleans them up.
# Usage: tests/python/run.sh [path/to/cspr]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cspr=${1:-$root/target/debug/cspr}
venv=${CSPR_PY_VENV:-$root/target/py-venv}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "grpcio>=1.60,<2" "grpcio-tools>=1.60,<2"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
submissions_port=$(free_port)
suffix=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
database="t_py_$suffix"
submissions_database="t_pys_$suffix"
notifications_database="t_pyn_$suffix"
practitioners_database="t_pyp_$suffix"
family_database="t_pyf_$suffix"
actions_database="t_pya_$suffix"
mail_dir=$(mktemp -d)
export CSPR_AUTH_HS256_SECRET="python-client-check-secret"
export CSPR_REGISTRY_ADDR="127.0.0.1:$port"
export CSPR_REGISTRY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
export CSPR_SUBMISSIONS_ADDR="127.0.0.1:$submissions_port"
export CSPR_SUBMISSIONS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$submissions_database"
export CSPR_NOTIFICATIONS_ADDR="127.0.0.1:$(free_port)"
export CSPR_NOTIFICATIONS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$notifications_database"
export CSPR_MAIL_DIR="$mail_dir"
export CSPR_PRACTITIONERS_ADDR="127.0.0.1:$(free_port)"
export CSPR_PRACTITIONERS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$practitioners_database"
export CSPR_FAMILY_ADDR="127.0.0.1:$(free_port)"
export CSPR_FAMILY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$family_database"
export CSPR_ACTIONS_ADDR="127.0.0.1:$(free_port)"
export CSPR_ACTIONS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$actions_database"
export CSPR_SUBJECT_PREFIX="py$suffix"
export RUST_LOG=warn

"$cspr" serve all &
server=$!
cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$mail_dir"
  for db in "$database" "$submissions_database" "$notifications_database" "$practitioners_database" "$family_database" "$actions_database"; do
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  # Delete the streams this run created, over the plain NATS protocol (no client needed).
  python3 - "$CSPR_SUBJECT_PREFIX" <<'PY' || true
import socket, sys
prefix = sys.argv[1].upper()
with socket.create_connection(("127.0.0.1", 4222), timeout=2) as connection:
    connection.recv(4096)
    commands = "CONNECT {\"verbose\":false}\r\n"
    for service in ("REGISTRY", "SUBMISSIONS", "PRACTITIONERS", "FAMILY", "ACTIONS", "NOTIFICATIONS"):
        commands += f"PUB $JS.API.STREAM.DELETE.{prefix}_{service} 0\r\n\r\n"
    connection.sendall((commands + "PING\r\n").encode())
    connection.recv(4096)
PY
}
trap cleanup EXIT

for addr in "127.0.0.1:$port" "127.0.0.1:$submissions_port"; do
  for _ in $(seq 1 100); do
    "$cspr" health check "$addr" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$cspr" health check "$addr"
done

CSPR_TOKEN=$("$cspr" token create --partnership southvale --role partnership_admin --sub python-client) \
  "$venv/bin/python" "$here/create_review.py" "127.0.0.1:$port"

CSPR_ADMIN_TOKEN=$("$cspr" token create --partnership southvale --role partnership_admin --role panel_chair --sub python-admin) \
CSPR_AGENCY_TOKEN=$("$cspr" token create --partnership southvale --role agency --org police --sub police-system) \
  "$venv/bin/python" "$here/submit_report.py" "127.0.0.1:$port" "127.0.0.1:$submissions_port"
