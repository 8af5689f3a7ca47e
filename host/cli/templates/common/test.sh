#!/usr/bin/env bash
# Runs {{name}} offline against test/events.jsonl and checks what it logs against
# test/expected.txt. Needs `roster` on PATH (or ROSTER=/path/to/roster).
set -euo pipefail
cd "$(dirname "$0")"
"${ROSTER:-roster}" plugin run {{name}}.wasm --events test/events.jsonl \
  | sed -n 's/^log   info  //p' | grep '^#' | diff -u test/expected.txt -
echo "ok: {{name}} logged what test/expected.txt says"
