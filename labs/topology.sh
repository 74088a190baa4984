# labs/topology.sh - `bin/lab topology up|down|status`: the client, the
# proxy and three backends as hosts of their own (network namespaces,
# root only), so that each has its own TCP stack and its own link:
#
#   l7lab-client 198.18.1.1 ──┐                     ┌── 198.18.2.11 l7lab-b1
#                      bridge l7lab-front    bridge l7lab-back ── 198.18.2.12 l7lab-b2
#   l7lab-proxy  198.18.1.2 ──┘  198.18.2.2 ────────┘   └── 198.18.2.13 l7lab-b3
#
# The bridges live in a namespace of their own (l7lab-sw), so nothing is
# added to the machine's own network; the addresses come from 198.18.0.0/15,
# the range RFC 2544 sets aside for benchmarking, used only in there, with
# no route out.  Links are shaped per side, the seed's two network stacks
# tuned separately: the client's link slow and far (netem delay 10ms and
# tbf 20mbit), the backends' near (netem delay 1ms, tbf 1gbit).  Where the
# kernel has no netem, it says so in one line and shapes with tbf alone.
# Everything is named l7lab-* and `down` removes exactly that.

TOPO_HOSTS=(client proxy b1 b2 b3)
TOPO_SW=l7lab-sw

topology_ready() { ip netns list 2>/dev/null | grep -q '^l7lab-proxy\b'; }

# _link NS IFACE PEER BRIDGE ADDR: a veth pair, IFACE in NS with ADDR, PEER
# on BRIDGE in the switch namespace.
_link() {
	local ns=$1 ifc=$2 peer=$3 br=$4 addr=$5
	ip link add "l7lab-$peer" type veth peer name "l7lab-x$peer" &&
		ip link set "l7lab-x$peer" netns "l7lab-$ns" &&
		ip -n "l7lab-$ns" link set "l7lab-x$peer" name "$ifc" &&
		ip link set "l7lab-$peer" netns "$TOPO_SW" &&
		ip -n "$TOPO_SW" link set "l7lab-$peer" master "$br" up &&
		ip -n "l7lab-$ns" addr add "$addr/24" dev "$ifc" &&
		ip -n "l7lab-$ns" link set "$ifc" up
}

# _shape NS IFACE DELAY RATE: netem delay (when the kernel has it) and a
# tbf rate limit on IFACE's egress.
_shape() {
	local ns=$1 ifc=$2 delay=$3 rate=$4
	if [ "$TOPO_NETEM" = 1 ]; then
		ip netns exec "$ns" tc qdisc add dev "$ifc" root handle 1: netem delay "$delay" &&
			ip netns exec "$ns" tc qdisc add dev "$ifc" parent 1:1 handle 10: tbf rate "$rate" burst 64kb latency 50ms
	else
		ip netns exec "$ns" tc qdisc add dev "$ifc" root tbf rate "$rate" burst 64kb latency 50ms
	fi
}

# _topo_netns_mounted: /run/netns is a mount point (ip netns add makes it one).
_topo_netns_mounted() { awk '$5 == "/run/netns" { f = 1 } END { exit !f }' /proc/self/mountinfo 2>/dev/null; }

# _topo_remove: delete every l7lab-* namespace (never another), then give
# back /run/netns as it was before `up` (TOPO_HAD_DIR, TOPO_HAD_MOUNT):
# unmounted, and removed, when up made it and no namespace is left in it.
_topo_remove() {
	local ns n=0
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^l7lab-/ { print $1 }'); do
		ip netns delete "$ns" && n=$((n + 1))
	done
	if [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		[ "${TOPO_HAD_MOUNT:-1}" = 1 ] || ! _topo_netns_mounted || umount /run/netns
		[ "${TOPO_HAD_DIR:-1}" = 1 ] || rmdir /run/netns 2>/dev/null
	fi
	echo "$n"
}

# _topo_build: the switch's bridges and the hosts with their links.
_topo_build() {
	local h
	for h in "${TOPO_HOSTS[@]}"; do
		ip netns add "l7lab-$h" && ip -n "l7lab-$h" link set lo up || return 1
	done
	ip -n "$TOPO_SW" link add l7lab-front type bridge &&
		ip -n "$TOPO_SW" link add l7lab-back type bridge &&
		ip -n "$TOPO_SW" link set l7lab-front up &&
		ip -n "$TOPO_SW" link set l7lab-back up &&
		_link client eth0 c l7lab-front "$TOPO_NET_FRONT.1" &&
		_link proxy front pf l7lab-front "$TOPO_NET_FRONT.2" &&
		_link proxy back pb l7lab-back "$TOPO_NET_BACK.2" &&
		_link b1 eth0 b1 l7lab-back "$TOPO_NET_BACK.11" &&
		_link b2 eth0 b2 l7lab-back "$TOPO_NET_BACK.12" &&
		_link b3 eth0 b3 l7lab-back "$TOPO_NET_BACK.13"
}

# _topo_fail WHAT ERR: undo a half-made topology, then one line and exit 2.
_topo_fail() {
	_topo_remove >/dev/null 2>&1
	rm -f "$STATE/l7lab-topology-netem" "$STATE/l7lab-topology-run"
	local why; why=$(printf '%s\n' "$2" | awk 'NF { l = $0 } END { print l }')
	die "topology: $1${why:+ ($why)}"
}

topology_up() {
	[ "$(id -u)" = 0 ] || die "topology: network namespaces need root"
	command -v ip >/dev/null && command -v tc >/dev/null || die "topology: ip and tc are missing (apt-get install iproute2)"
	topology_ready && { echo "topology: already up (bin/lab topology down first to rebuild it)"; return 0; }
	local err
	TOPO_HAD_DIR=$([ -d /run/netns ] && echo 1 || echo 0)
	TOPO_HAD_MOUNT=$(_topo_netns_mounted && echo 1 || echo 0)
	_topo_remove >/dev/null 2>&1          # the rest of a topology half made before
	trap '_topo_fail "interrupted" ""' INT TERM
	# Try once: can a namespace be made and entered here?  Not in a chroot
	# (ip cannot make / a slave mount) nor a container without mount rights.
	err=$( { ip netns add "$TOPO_SW" && ip -n "$TOPO_SW" link set lo up; } 2>&1) ||
		_topo_fail "network namespaces cannot be made here" "$err"
	echo "$TOPO_HAD_DIR $TOPO_HAD_MOUNT" >"$STATE/l7lab-topology-run"
	err=$(_topo_build 2>&1) || _topo_fail "could not build the hosts" "$err"
	trap - INT TERM
	# netem: present in most kernels, absent from this project's machines.
	if err=$(ip netns exec l7lab-client tc qdisc add dev eth0 root netem delay 1ms 2>&1); then
		ip netns exec l7lab-client tc qdisc del dev eth0 root
		TOPO_NETEM=1
	else
		TOPO_NETEM=0
		echo "topology: netem is absent from this kernel (tc: ${err##*: }); links get tbf rate limits only, no added delay"
	fi
	err=$( { _shape l7lab-client eth0 10ms 20mbit && _shape l7lab-proxy front 10ms 20mbit &&
		_shape l7lab-proxy back 1ms 1gbit &&
		_shape l7lab-b1 eth0 1ms 1gbit && _shape l7lab-b2 eth0 1ms 1gbit && _shape l7lab-b3 eth0 1ms 1gbit; } 2>&1) ||
		_topo_fail "tc could not shape the links" "$err"
	echo "$TOPO_NETEM" >"$STATE/l7lab-topology-netem"
	topology_status
}

topology_down() {
	local n
	read -r TOPO_HAD_DIR TOPO_HAD_MOUNT 2>/dev/null <"$STATE/l7lab-topology-run"
	n=$(_topo_remove)
	rm -f "$STATE/l7lab-topology-netem" "$STATE/l7lab-topology-run"
	echo "topology: removed $n namespace(s)"
}

topology_status() {
	topology_ready || { echo "topology: down"; return 1; }
	local delay_c= delay_b= how="tbf rate limits only (no netem in this kernel)"
	if [ "$(cat "$STATE/l7lab-topology-netem" 2>/dev/null)" = 1 ]; then
		delay_c=", 10 ms" delay_b=", 1 ms" how="netem delay and tbf rate limits"
	fi
	echo "topology: up ($how)"
	echo "  client  l7lab-client  $TOPO_NET_FRONT.1                     link 20mbit$delay_c"
	echo "  proxy   l7lab-proxy   $TOPO_NET_FRONT.2 front, $TOPO_NET_BACK.2 back"
	echo "  b1-b3   l7lab-b1..b3  $TOPO_NET_BACK.11, .12, .13             link 1gbit$delay_b"
	echo "  run a command on a host: ip netns exec l7lab-client curl http://$TOPO_NET_FRONT.2:8080/"
}

cmd_topology() {
	case "${1:-}" in
	up) topology_up ;;
	down) [ "$(id -u)" = 0 ] || die "topology: network namespaces need root"; topology_down ;;
	status) topology_status ;;
	*) die "topology up|down|status" ;;
	esac
}
