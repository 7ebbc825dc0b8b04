#!/bin/sh
# Runs the app/peer mDNS tests inside a fresh network namespace whose only
# interface is lo, with multicast on and 224.0.0.0/4 routed through it, so
# they neither need a LAN nor send anything onto one. Used by `make test`.
#
# The namespace comes from `unshare -rn` (no root needed where user
# namespaces are allowed), else from `ip netns` (root). Inside it, the peer
# package's own app/peer/testdata/mdns-netns.sh sets up lo and runs the
# tests. When namespaces are not permitted here, it prints
# "skipped: <reason>" and exits 0.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
inner="$root/app/peer/testdata/mdns-netns.sh"

skip() {
	echo "mdns-netns: skipped: $1"
	exit 0
}

# What runs inside the namespace: the peer package's script when it is
# there, else the same steps inline.
run_inside() {
	if [ -f "$inner" ]; then
		exec env MEDWALLET_IN_NETNS=1 sh "$inner"
	fi
	ip link set lo up
	ip link set lo multicast on
	ip route add 224.0.0.0/4 dev lo
	cd "$root"
	exec go test -count=1 -v -run 'TestMDNS' ./app/peer/
}

if [ "${MEDWALLET_MDNS_INSIDE:-}" = 1 ]; then
	run_inside
fi

command -v ip >/dev/null 2>&1 || skip "the ip command (iproute2) is not installed"
command -v go >/dev/null 2>&1 || skip "the go command is not on PATH"
# go needs its caches; keep the caller's, which stay readable inside.
GOCACHE="${GOCACHE:-$(go env GOCACHE)}"
GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE)}"
GOFLAGS="${GOFLAGS:-$(go env GOFLAGS)}"
export GOCACHE GOMODCACHE GOFLAGS

if command -v unshare >/dev/null 2>&1 && unshare -rn true 2>/dev/null; then
	MEDWALLET_MDNS_INSIDE=1 exec unshare -rn sh "$0"
fi

if [ "$(id -u)" = 0 ]; then
	ns="medwallet-mdns-$$"
	if ip netns add "$ns" 2>/dev/null; then
		trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
		status=0
		ip netns exec "$ns" env MEDWALLET_MDNS_INSIDE=1 sh "$0" || status=$?
		exit $status
	fi
	skip "network namespaces are not permitted here (unshare -rn and ip netns add both failed)"
fi
skip "user namespaces are not permitted here and ip netns needs root"
