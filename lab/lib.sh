# shellcheck shell=bash
# Shared definitions for lab/up, lab/down and lab/traffic.  Sourced, not run.
#
# Everything in the lab lives in network namespaces named es-*; nothing is
# configured in the root namespace.  Addresses come from the RFC 2544
# benchmarking range 198.18.0.0/15 (and fd00:18::/32 ULA for IPv6).

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${EDGE_LAB_STATE:-/run/edge-sensor-lab}"
SECRETS="$STATE/secrets"
SYS_PY=/usr/bin/python3

# ---------------------------------------------------------------- topology
MGMT_NET=198.18.0.0/24
SENSOR_IP=198.18.0.100
SW1_MGMT_IP=198.18.0.11
DIST_MGMT_IP=198.18.0.1
CLIN_GW4=198.18.10.1
CLIN_GW6=fd00:18:10::1
SRV_GW4=198.18.20.1
SRV_GW6=fd00:18:20::1
SRV_IP4=198.18.20.10
SRV_IP6=fd00:18:20::10
CLIN_VLAN=10          # what the switches call the clinical VLAN ...
CLIN_FDB_ID=1         # ... and the FDB id it uses (deliberately different)
SNMP_USER=sensor
SNMP_AUTH_PROTO=SHA-256   # net-snmp spelling; sensor.toml: sha256
SNMP_PRIV_PROTO=AES       # net-snmp spelling (AES-128 CFB); sensor.toml: aes128

# Switch MACs: sw1 looks like an HPE/Aruba access switch, dist like an Arista.
SW1_BASE_MAC=94:18:82:01:00:00
SW1_MGMT_MAC=94:18:82:01:00:30
DIST_BASE_MAC=28:99:3a:02:00:00
DIST_MGMT_MAC=28:99:3a:02:00:30
SENSOR_MAC=a0:36:9f:00:00:64

# End devices behind sw1: name|namespace|mac|ipv4|ipv6|sw1 port|sw1 port mac|description
# (the phone's PC hangs behind the phone, see setup_phone)
DEVICES=(
  "pump|es-pump|58:42:e4:12:10:21|198.18.10.21|fd00:18:10::21|ge1|94:18:82:01:00:01|infusion pump (Baxter OUI)"
  "monitor|es-mon|00:09:fb:12:10:22|198.18.10.22|fd00:18:10::22|ge2|94:18:82:01:00:02|patient monitor (Philips Patient Monitoring OUI)"
  "workstation|es-ws|f8:bc:12:12:10:23|198.18.10.23|fd00:18:10::23|ge3|94:18:82:01:00:03|nurse workstation (Dell OUI)"
  "phone|es-phone|00:1e:7a:12:10:24|198.18.10.24|fd00:18:10::24|ge4|94:18:82:01:00:04|IP phone with LLDP (Cisco OUI)"
  "pc|es-pc|3c:52:82:12:10:25|198.18.10.25|fd00:18:10::25|ge4|94:18:82:01:00:04|PC behind the phone (HP OUI)"
)
PHONE_PC_PORT_MAC=00:1e:7a:12:10:26   # the phone's own switch port towards the PC
PHONE_SYSNAME=SEP001E7A121024
SW1_UPLINK=ge24
SW1_UPLINK_MAC=94:18:82:01:00:18
DIST_DOWNLINK=ge1
DIST_DOWNLINK_MAC=28:99:3a:02:00:01
DIST_SRV_PORT=ge2
DIST_SRV_PORT_MAC=28:99:3a:02:00:02
SRV_MAC=e4:43:4b:12:20:10

NAMESPACES=(es-mgmt es-sw1 es-dist es-srv es-pump es-mon es-ws es-phone es-pc)

# ---------------------------------------------------------------- helpers
log() { printf '%s lab: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0)"
  local t missing=()
  for t in ip bridge snmpd snmpget lldpd lldpcli ping; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt install iproute2 snmpd snmp lldpd iputils-ping)"
}

# The daemons the lab starts must not inherit our caller's descriptors: under
# `flock /tmp/edge-lab.lock lab/up` they would hold the shared lab lock for as long as they
# run, and a lab left up (a test killed before its lab/down) would lock everyone out.
# flock itself keeps the lock; only our copies are closed (255 is bash's script).
close_inherited_fds() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 255)) || continue
    eval "exec $fd>&-" 2>/dev/null || true
  done
}

# dev_field NAME FIELD -> one field of the DEVICES entry for NAME
dev_field() {
  local want=$1 idx=$2 line
  for line in "${DEVICES[@]}"; do
    IFS='|' read -r -a f <<<"$line"
    [[ ${f[0]} == "$want" ]] && { echo "${f[$idx]}"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- segmented layout (lab/segment)
# The pump and the monitor move to their own segment, routed by dist.  The kernel here has
# no bridge VLAN filtering, so the segment is its own bridge on sw1 (br30, ports ge1/ge2,
# uplink ge23) and on dist (vlan30 + SVI, downlink ge3), as VLAN 30 would be.
SEG_VLAN=30
SEG_GW4=198.18.30.1
SEG_GW6=fd00:18:30::1
SEG_SW1_BRIDGE=br30
SEG_SW1_BRIDGE_MAC=94:18:82:01:00:1e
SEG_SW1_UPLINK=ge23
SEG_SW1_UPLINK_MAC=94:18:82:01:00:17
SEG_DIST_BRIDGE=vlan30
SEG_DIST_BRIDGE_MAC=28:99:3a:02:00:1e
SEG_DIST_DOWNLINK=ge3
SEG_DIST_DOWNLINK_MAC=28:99:3a:02:00:03
# name|new ipv4|new ipv6 (the devices keep their MAC and their sw1 port)
SEG_DEVICES=("pump|198.18.30.21|fd00:18:30::21" "monitor|198.18.30.22|fd00:18:30::22")
# The central station (monitor -> central station) on its own routed port of dist.
CS_MAC=e4:43:4b:12:21:20
CS_IP4=198.18.21.20
CS_GW4=198.18.21.1
CS_DIST_PORT=ge4
CS_DIST_PORT_MAC=28:99:3a:02:00:04
# "Outside the hospital": RFC 5737 TEST-NET-3, inside a namespace only, never routed anywhere else.
INET_MAC=02:cb:00:71:00:0a
INET_IP4=203.0.113.10
INET_GW4=203.0.113.1
INET_DIST_PORT=ge5
INET_DIST_PORT_MAC=28:99:3a:02:00:05
SEG_NAMESPACES=(es-cs es-inet)
# Listeners the segmented layout starts (lab/bin/listen): namespace|proto|port|what
SEG_LISTENERS=("es-srv|tcp|443|EMR web (workstations)" "es-srv|udp|24105|IntelliVue data export"
  "es-cs|tcp|24005|central station (IntelliVue)" "es-pump|tcp|443|pump web page"
  "es-inet|tcp|443|a web server outside the hospital")
