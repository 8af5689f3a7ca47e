#!/usr/bin/env bash
# Certifies {{name}}: Roster's conformance suites on a temporary directory. Needs `roster` on
# PATH (or ROSTER=/path/to/roster).
set -euo pipefail
cd "$(dirname "$0")"
store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
"${ROSTER:-roster}" plugin conformance {{name}}.wasm --url "file://$store"
