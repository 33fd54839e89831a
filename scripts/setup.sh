#!/usr/bin/env bash
# Installs (or names) the system packages Omoi's local sandbox and UI tests need.
#   bubblewrap, socat, ripgrep: the local sandbox (@anthropic-ai/sandbox-runtime) on Linux
#   chromium: the browser the UI tests drive through playwright-core
# With --check-or-install it installs what is missing when run as root with apt-get, and
# otherwise prints the exact command to run.
set -euo pipefail

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v socat >/dev/null || missing+=(socat)
command -v rg >/dev/null || missing+=(ripgrep)
if [ "${OMOI_SKIP_BROWSER:-}" != "1" ]; then
  command -v chromium >/dev/null || missing+=(chromium)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "omoi setup: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
  exit 0
fi

echo "omoi setup: missing system packages: ${missing[*]}" >&2
echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
exit 1
