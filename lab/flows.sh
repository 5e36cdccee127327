# shellcheck shell=bash
# Flow export in the lab: softflowd on sw1's bridge sends NetFlow v5, v9 and IPFIX
# to the sensor's address in es-mgmt, and the pharmacy server listens on HL7 MLLP
# (tcp/2575).  Sourced by lab/up (start_daemons calls start_flows).
#
#   v5    -> 198.18.0.100:2055   ctl: $STATE/sw1/softflowd-v5.ctl
#   v9    -> 198.18.0.100:2056   ctl: $STATE/sw1/softflowd-v9.ctl
#   IPFIX -> 198.18.0.100:4739   ctl: $STATE/sw1/softflowd-ipfix.ctl  (-T ether: MACs and VLANs too)
#
# softflowd hands packets over only when libpcap's buffer fills: after a burst
# of traffic run `softflowctl -c <ctl> expire-all` to export everything now.

FLOW_PORTS=(v5:5:2055:full v9:9:2056:full ipfix:10:4739:ether)
HL7_PORT=2575

start_flows() {
  local dir=$STATE/sw1 spec name ver port track
  mkdir -p "$dir"
  command -v softflowd >/dev/null || die "softflowd missing (apt install softflowd)"
  for spec in "${FLOW_PORTS[@]}"; do
    IFS=: read -r name ver port track <<<"$spec"
    nsx es-sw1 softflowd -i br0 -v "$ver" -T "$track" -n "$SENSOR_IP:$port" \
      -p "$dir/softflowd-$name.pid" -c "$dir/softflowd-$name.ctl" -t maxlife=300 -B 1048576 \
      </dev/null >>"$dir/softflowd-$name.log" 2>&1
  done
  # The pharmacy server's HL7 MLLP listener: accepts, reads, answers each message with an ACK.
  setsid ip netns exec es-srv "$SYS_PY" -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", '"$HL7_PORT"')); s.listen(16)
def serve(c):
    with c:
        while c.recv(65536):
            c.sendall(b"\x0bMSH|^~\\&|PHARM|SRV|||||ACK|1|P|2.5\rMSA|AA|1\r\x1c\r")
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
' </dev/null >>"$STATE/srv-hl7.log" 2>&1 &
  mkdir -p "$STATE/srv"
  echo $! >"$STATE/srv/hl7.pid"
  wait_for "softflowd control sockets" 5 test -S "$dir/softflowd-v5.ctl" -a -S "$dir/softflowd-v9.ctl" \
    -a -S "$dir/softflowd-ipfix.ctl"
}
