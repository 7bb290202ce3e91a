#!/usr/bin/env bash
# The topology of deploy/compose.yaml without Docker: PostgreSQL (Debian's binaries, a throwaway
# cluster), nats-server in operator mode, two control-plane replicas and a delegate, all from local
# binaries on 127.0.0.1. Prints the URLs and keys; Ctrl-C stops everything it started and removes
# its directory (ATTACHE_CLUSTER_KEEP=1 keeps the directory).
#
#   npm run build && deploy/run-local-cluster.sh
#   ATTACHE_CLUSTER_SMOKE=1 deploy/run-local-cluster.sh    # start, run one task through each replica, stop
#
# Ports (override with the variables): PostgreSQL 55432, NATS 54222, cp-a HTTP 18081 / gRPC 17441,
# cp-b HTTP 18082 / gRPC 17442. Needs postgresql and nats-server (scripts/install-test-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_PORT=${PG_PORT:-55432}
NATS_PORT=${NATS_PORT:-54222}
CP_A_HTTP=${CP_A_HTTP:-18081}
CP_A_GRPC=${CP_A_GRPC:-17441}
CP_B_HTTP=${CP_B_HTTP:-18082}
CP_B_GRPC=${CP_B_GRPC:-17442}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/attache-cluster.XXXXXX")
chmod 0755 "$DIR"
PIDS=()

log() { printf '[cluster] %s\n' "$*" >&2; }

cleanup() {
  trap - INT TERM EXIT
  log "stopping"
  # Newest first: the delegate drains, then the replicas, then NATS and PostgreSQL.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${ATTACHE_CLUSTER_KEEP:-}" = 1 ]; then log "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -f "$ROOT/control-plane/dist/cli.js" ] && [ -f "$ROOT/delegate/dist/cli.js" ] || (cd "$ROOT" && npm run build >/dev/null)
command -v nats-server >/dev/null || { log "nats-server not found: run scripts/install-test-deps.sh"; exit 1; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/postgres" ] || { log "PostgreSQL not found under /usr/lib/postgresql: run scripts/install-test-deps.sh"; exit 1; }

wait_for() { # url what
  for _ in $(seq 1 150); do
    if node -e "fetch('$1').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  log "$2 did not become ready ($1); logs in $DIR"
  exit 1
}

# --- PostgreSQL: a fresh cluster in $DIR/pg. initdb and postgres refuse root; run them as postgres.
AS=()
if [ "$(id -u)" = 0 ]; then
  PG_USER=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
  AS=(runuser -u "$PG_USER" --)
  mkdir -p "$DIR/pg" && chown "$PG_USER" "$DIR/pg"
fi
"${AS[@]}" env LANG=C LC_ALL=C "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1
"${AS[@]}" "$PG_BIN/postgres" -D "$DIR/pg/data" -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
  -c unix_socket_directories="$DIR/pg" >"$DIR/postgres.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres attache
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/attache"
log "PostgreSQL on $DATABASE_URL"

# --- nats-server in operator mode, with the account whose signing key the replicas hold.
SETUP=$(cd "$ROOT" && node scripts/nats-setup.mjs "$DIR/nats.conf")
NATS_ACCOUNT=$(sed -n 's/^ATTACHE_NATS_ACCOUNT=//p' <<<"$SETUP")
NATS_SEED=$(sed -n 's/^ATTACHE_NATS_SIGNING_SEED=//p' <<<"$SETUP")
nats-server -c "$DIR/nats.conf" -js -sd "$DIR/nats-js" -a 127.0.0.1 -p "$NATS_PORT" >"$DIR/nats.log" 2>&1 &
PIDS+=($!)
NATS_URL="nats://127.0.0.1:$NATS_PORT"
log "nats-server on $NATS_URL (account $NATS_ACCOUNT)"

# --- Two replicas: one database, one NATS, one operator key; each its own ports and data dir.
OPERATOR_KEY=$(node -e "console.log('atop_' + require('crypto').randomBytes(32).toString('base64url'))")
start_replica() { # id http grpc
  ATTACHE_REPLICA_ID=$1 ATTACHE_HTTP_ADDR=127.0.0.1:$2 ATTACHE_GRPC_ADDR=127.0.0.1:$3 \
    ATTACHE_DATA_DIR="$DIR/$1" ATTACHE_DATABASE_URL="$DATABASE_URL" ATTACHE_OPERATOR_KEY="$OPERATOR_KEY" \
    ATTACHE_NATS_URL="$NATS_URL" ATTACHE_NATS_ACCOUNT="$NATS_ACCOUNT" ATTACHE_NATS_SIGNING_SEED="$NATS_SEED" \
    node "$ROOT/control-plane/dist/cli.js" >"$DIR/$1.log" 2>&1 &
  PIDS+=($!)
}
# Both at once on the empty database: the schema migration takes turns under an advisory lock.
start_replica cp-a "$CP_A_HTTP" "$CP_A_GRPC"
start_replica cp-b "$CP_B_HTTP" "$CP_B_GRPC"
CP_A="http://127.0.0.1:$CP_A_HTTP"
CP_B="http://127.0.0.1:$CP_B_HTTP"
wait_for "$CP_A/readyz" cp-a
wait_for "$CP_B/readyz" cp-b

# --- A tenant and a delegate token, then the delegate: gRPC to cp-a first, WebSocket to cp-b next.
ATTACHE_API=$CP_A ATTACHE_OPERATOR_KEY=$OPERATOR_KEY node "$ROOT/deploy/bootstrap.mjs" "$DIR/demo.env" >&2
# shellcheck disable=SC1091
. "$DIR/demo.env"
DELEGATE_URL="grpc://127.0.0.1:$CP_A_GRPC,ws://127.0.0.1:$CP_B_HTTP"
# Its policy: the defaults unless the caller sets them (what it may read, where accounts may point it).
ATTACHE_URL=$DELEGATE_URL ATTACHE_TOKEN=$ATTACHE_TOKEN ATTACHE_DELEGATE_NAME=demo ATTACHE_TAGS=demo \
  ATTACHE_ALLOW_REFS="${ATTACHE_ALLOW_REFS:-env:AWS_*,file:/var/run/secrets/attache/*}" ATTACHE_ALLOW_ENDPOINTS="${ATTACHE_ALLOW_ENDPOINTS:-}" \
  ATTACHE_STATE_DIR="$DIR/delegate" node "$ROOT/delegate/dist/cli.js" >"$DIR/delegate.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  grep -q '"registered"' "$DIR/delegate.log" 2>/dev/null && break
  sleep 0.2
done
grep -q '"registered"' "$DIR/delegate.log" || { log "the delegate did not register; see $DIR/delegate.log"; exit 1; }

cat >&2 <<EOF

Attaché scale-out cluster (logs in $DIR):
  PostgreSQL      $DATABASE_URL
  NATS            $NATS_URL   (operator mode; account $NATS_ACCOUNT)
  replica cp-a    $CP_A   grpc://127.0.0.1:$CP_A_GRPC   ws://127.0.0.1:$CP_A_HTTP
  replica cp-b    $CP_B   grpc://127.0.0.1:$CP_B_GRPC   ws://127.0.0.1:$CP_B_HTTP
  delegate demo   ATTACHE_URL=$DELEGATE_URL   (tags: demo)
  a NATS delegate would use  ATTACHE_URL='$NATS_URL?api=$CP_A,$NATS_URL?api=$CP_B'

  export ATTACHE_OPERATOR_KEY=$OPERATOR_KEY
  export ATTACHE_KEY=$ATTACHE_API_KEY          # tenant "demo" ($ATTACHE_TENANT_ID)
  export ATTACHE_DELEGATE_TOKEN=$ATTACHE_TOKEN
  curl -s -H "authorization: Bearer \$ATTACHE_KEY" -H 'content-type: application/json' \\
       -d '{"type":"echo","payload":{"message":"hello"},"selectors":["demo"]}' $CP_B/v1/tasks
  curl -s -H "authorization: Bearer \$ATTACHE_KEY" "$CP_A/v1/tasks/<id>?waitSeconds=10"

Stop with Ctrl-C.
EOF

if [ "${ATTACHE_CLUSTER_SMOKE:-}" = 1 ]; then
  # One task created through each replica, each read back through the other one.
  for pair in "$CP_A $CP_B" "$CP_B $CP_A"; do
    set -- $pair
    node --input-type=module -e "
      const [create, read, key] = process.argv.slice(1);
      const h = { authorization: 'Bearer ' + key, 'content-type': 'application/json' };
      const t = await (await fetch(create + '/v1/tasks', { method: 'POST', headers: h, body: JSON.stringify({ type: 'echo', payload: { message: 'via ' + create }, selectors: ['demo'] }) })).json();
      const done = await (await fetch(read + '/v1/tasks/' + t.id + '?waitSeconds=10', { headers: h })).json();
      console.log('[cluster] smoke: created on ' + create + ', read on ' + read + ': ' + done.state + ' ' + JSON.stringify(done.result));
      process.exit(done.state === 'succeeded' ? 0 : 1);
    " "$1" "$2" "$ATTACHE_API_KEY" >&2
  done
  exit 0
fi

# Runs until Ctrl-C, or until one of the processes it started dies.
wait -n "${PIDS[@]}"
log "a process exited; logs in $DIR"
exit 1
