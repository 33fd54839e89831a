#!/usr/bin/env bash
# Runs every check: lint/format, type check, then the whole test suite.
# System packages the tests need (bubblewrap, socat, ripgrep, chromium) are checked by
# scripts/setup.sh, which installs them when it can.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --check-or-install
npx biome check src test bench web
npx tsc --noEmit -p .
npx tsc --noEmit -p web
[ -f web/dist/index.html ] || npm run build:web --silent

mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
