#!/usr/bin/env bash
# Checks everything under infra/ and docker-compose.yml without Docker or a cluster:
#
#   infra/validate.sh
#
# Installs what it needs where missing: promtool (taken from Debian's `prometheus`
# package, without installing the server), and a Python venv in target/infra-venv with
# the pinned tools of infra/requirements.txt. Uses kubectl (kustomize) and nats-server
# when they are installed, and says so when they are not. About a minute on a fresh
# machine, seconds after that.
#
#   YAML style       yamllint (infra/yamllint.yaml)
#   compose          check-jsonschema against the Compose Specification schema it ships
#                    (vendor.compose-spec); `docker compose config` too when the Docker
#                    Compose plugin is installed; semantics in infra/validate.py
#   Prometheus       promtool check config (prometheus.yml + alerts.yml), promtool test
#                    rules (alerts_test.yml)
#   the rest         infra/validate.py: collector pipelines, metric names of alerts and
#                    dashboards against infra/metrics.txt, runbook links, dashboards,
#                    kustomize render + Kubernetes schema validation, NATS configs
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

TOOLS=target/infra-tools
VENV=target/infra-venv
mkdir -p "$TOOLS"

step "tools"
# promtool: from PATH, or extracted from Debian's prometheus package (installing the
# package would also install and start a Prometheus server and its exporters).
PROMTOOL=$(command -v promtool || true)
if [ -z "$PROMTOOL" ]; then
  PROMTOOL="$TOOLS/promtool"
  if [ ! -x "$PROMTOOL" ]; then
    echo "fetching promtool from Debian's prometheus package"
    download=$(mktemp -d)
    (cd "$download" && { apt-get download prometheus >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; })
    dpkg-deb -x "$download"/prometheus_*.deb "$download/root"
    install -m 0755 "$download/root/usr/bin/promtool" "$PROMTOOL"
    rm -rf "$download"
  fi
fi
echo "promtool:       $("$PROMTOOL" --version 2>&1 | head -n 1)"

# Python tools, pinned; the venv is rebuilt when requirements.txt changes.
stamp="$VENV/.requirements.sha256"
wanted=$(sha256sum infra/requirements.txt | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "creating $VENV"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check -r infra/requirements.txt
  echo "$wanted" >"$stamp"
fi
PYTHON="$VENV/bin/python"
echo "python:         $("$PYTHON" --version)"
echo "pip packages:   $("$VENV/bin/pip" freeze --disable-pip-version-check \
  | grep -iE '^(check-jsonschema|kubernetes-validate|yamllint|PyYAML)==' | tr '\n' ' ')"

KUBECTL=$(command -v kubectl || true)
if [ -n "$KUBECTL" ] && "$KUBECTL" kustomize --help >/dev/null 2>&1; then
  echo "kubectl:        $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
else
  KUBECTL=""
  echo "kubectl:        not installed: kustomize renders with infra/validate.py's renderer"
fi
NATS_SERVER=$(command -v nats-server || true)
[ -z "$NATS_SERVER" ] && [ -x /usr/sbin/nats-server ] && NATS_SERVER=/usr/sbin/nats-server
echo "nats-server:    ${NATS_SERVER:-not installed (Debian package nats-server): NATS configs not parsed}"

step "yamllint"
"$VENV/bin/yamllint" --version
"$VENV/bin/yamllint" -c infra/yamllint.yaml docker-compose.yml infra/
echo "ok: docker-compose.yml and every YAML file under infra/"

step "compose files against the Compose Specification schema"
"$VENV/bin/check-jsonschema" --version
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec \
  docker-compose.yml infra/nats/cluster/compose.yaml
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q
  docker compose -f infra/nats/cluster/compose.yaml config -q
  echo "ok: docker compose config ($(docker compose version --short))"
else
  echo "(the Docker Compose plugin is not installed: docker compose config skipped)"
fi

step "Prometheus: config, alert rules, rule unit tests"
"$PROMTOOL" check config infra/prometheus/prometheus.yml
"$PROMTOOL" test rules infra/prometheus/alerts_test.yml

step "collector, metric names, alerts, dashboards, Kubernetes, NATS (infra/validate.py)"
args=(--promtool "$PROMTOOL")
[ -n "$KUBECTL" ] && args+=(--kubectl "$KUBECTL")
[ -n "$NATS_SERVER" ] && args+=(--nats-server "$NATS_SERVER")
"$PYTHON" infra/validate.py "${args[@]}"

step "infra: every check passed"
