#!/usr/bin/env bash
# Runs every fuzz target of the project for a short time each:
#   scripts/fuzz.sh [DURATION]   (default 15s)
set -euo pipefail
t=${1:-15s}
cd "$(dirname "$0")/.."
status=0
for f in $(grep -rl --include='*_test.go' '^func Fuzz' wallet app cmd); do
  pkg=./$(dirname "$f")
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "== $pkg $name"
    CGO_ENABLED=0 go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg" || status=1
  done
done
exit $status
