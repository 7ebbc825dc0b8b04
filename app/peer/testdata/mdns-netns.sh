#!/bin/sh
# Runs the mDNS test of app/peer inside a fresh network namespace whose only
# interface is lo, with multicast switched on and routed through it, so the
# test neither needs a LAN nor sends anything onto one.
# Usage (from anywhere in the repository): app/peer/testdata/mdns-netns.sh
# Exits 0 with a message when namespaces are not permitted here.
set -eu

root=$(cd "$(dirname "$0")/../../.." && pwd)

if [ "${MEDWALLET_IN_NETNS:-}" = 1 ]; then
	ip link set lo up
	ip link set lo multicast on
	ip route add 224.0.0.0/4 dev lo
	cd "$root"
	exec go test -count=1 -v -run 'TestMDNS' ./app/peer/
fi

if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
	echo "mdns-netns: unshare or ip not installed; skipping the namespaced mDNS test"
	exit 0
fi
if ! unshare -rn true 2>/dev/null; then
	echo "mdns-netns: user and network namespaces are not permitted here; skipping the namespaced mDNS test"
	exit 0
fi
# go needs its caches; keep the caller's, which stay readable inside the namespace.
export GOCACHE="${GOCACHE:-$(go env GOCACHE)}" GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE)}"
MEDWALLET_IN_NETNS=1 exec unshare -rn sh "$0"
