#!/usr/bin/env bash
# Makes sure the servers the test suite runs against are present. Idempotent: a machine that has
# everything is left alone.
#   moto_server            the AWS emulator (STS, EC2, IAM) with authentication enforced. It ships
#                          with this project's machine image (moto 5 under pyenv); where missing,
#                          pip installs it if the Python package index is reachable.
#   nats-server            Debian's package (2.9): the NATS bus and carrier tests.
#   postgresql             Debian's package (15): the PostgreSQL store tests (started per test run
#                          from its binaries in a temporary directory, not as a system service).
#   redis-server           Debian's package: the BullMQ peer in the benchmarks.
set -euo pipefail

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
  # The tests start their own servers; the package's system service is not needed.
  $SUDO service postgresql stop >/dev/null 2>&1 || true
  $SUDO service redis-server stop >/dev/null 2>&1 || true
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server not found; trying: python3 -m pip install 'moto[server]'" >&2
  python3 -m pip install --quiet 'moto[server]' || true
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server is required by the AWS tests (e2e/src/support/moto.ts) and is not installed." >&2
  exit 1
fi
echo "test servers: moto_server, $(nats-server --version 2>&1 | head -1), postgres $(ls /usr/lib/postgresql/ | tail -1), $(redis-server --version | cut -d' ' -f3)" >&2
