#!/usr/bin/env bash
# Sets bottle up on a fresh Debian or Ubuntu machine: bubblewrap (the sandbox that needs no
# daemon), the npm packages, and the bundled CLI in dist/bottle.js. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup: bottle needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if ! command -v bwrap >/dev/null 2>&1; then
  # Root installs directly; anyone else goes through sudo, which asks for a password once.
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq bubblewrap
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "setup: done; try ./dist/bottle.js plan launch demo" >&2
