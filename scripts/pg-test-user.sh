#!/usr/bin/env bash
# The node's PostgreSQL tests (app/node/pgstore/pgtest) start a throwaway
# server; postgres refuses to run as root, so when the tests run as root
# they run it as this system account, created here if missing.
set -euo pipefail
user=medwallet-test
[ "$(id -u)" -ne 0 ] && exit 0
id -u "$user" >/dev/null 2>&1 && exit 0
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
