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
#   chromium               Debian's package: the console's browser tests (e2e/src/console), driven by
#                          playwright-core, which cannot download a browser of its own here.
#   systemd-analyze        Debian's `systemd`: `verify` checks deploy/systemd/attache-delegate.service.
#   helm, cfn-lint         pinned in scripts/test-tools.env, for the deploy tests: helm built with
#                          `go install` from the Go module proxy (Go from PATH or /usr/local/go), cfn-lint
#                          from PyPI in a virtual environment. Both go to ATTACHE_TOOLS_DIR (default
#                          ~/.cache/attache-tools/<tool>/<version>), where a later run finds them; the
#                          Go module and build caches make a rebuild of a new pin quicker.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
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
# shellcheck source=test-tools.env
. scripts/test-tools.env
tools_dir="${ATTACHE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attache-tools}"

helm_bin="$tools_dir/helm/$HELM_VERSION/helm"
if [ ! -x "$helm_bin" ]; then
  command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
  if ! command -v go >/dev/null 2>&1; then
    echo "helm $HELM_VERSION is built with Go, and no go is on PATH or in /usr/local/go/bin." >&2
    exit 1
  fi
  started=$(date +%s)
  echo "building helm $HELM_VERSION with $(go version | cut -d' ' -f3) (a few minutes the first time)" >&2
  # helm's own release build stamps its version and the Kubernetes version it assumes (that of its
  # client-go); without them `helm template` would take the cluster for Kubernetes 1.20.
  helm_mod_dir=$(GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_mod_dir/go.mod")
  if [ -z "$k8s_minor" ]; then
    echo "cannot read the client-go version from $helm_mod_dir/go.mod (helm $HELM_VERSION)" >&2
    exit 1
  fi
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  GOBIN="$tools_dir/helm/$HELM_VERSION" GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "helm $HELM_VERSION built in $(( $(date +%s) - started )) s" >&2
fi

cfn_lint_bin="$tools_dir/cfn-lint/$CFN_LINT_VERSION/bin/cfn-lint"
if [ ! -x "$cfn_lint_bin" ]; then
  started=$(date +%s)
  echo "installing cfn-lint $CFN_LINT_VERSION from PyPI" >&2
  if ! python3 -m venv "$tools_dir/cfn-lint/$CFN_LINT_VERSION" >/dev/null 2>&1; then
    # Debian's python3 keeps venv (ensurepip) in a package of its own.
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$tools_dir/cfn-lint/$CFN_LINT_VERSION"
  fi
  "$tools_dir/cfn-lint/$CFN_LINT_VERSION/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
  echo "cfn-lint $CFN_LINT_VERSION installed in $(( $(date +%s) - started )) s" >&2
fi

echo "deploy tools: $("$helm_bin" version --template '{{.Version}}'), $("$cfn_lint_bin" --version), $(systemd-analyze --version | head -1)" >&2
echo "test servers: moto_server, $(nats-server --version 2>&1 | head -1), postgres $(ls /usr/lib/postgresql/ | tail -1), $(redis-server --version | cut -d' ' -f3), $(chromium --version 2>/dev/null | head -1)" >&2
