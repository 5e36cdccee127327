# shellcheck shell=bash
# NETCONF on dist, for the NETCONF collector.  Sourced by lab/up, which calls start_lab_netconf
# from start_daemons; lab/down stops it with every other process in the es-* namespaces.
#
# - lab/bin/netconf-server listens on dist's management address, port $NETCONF_PORT, and serves
#   dist's kernel state in OpenConfig models (interfaces, FDB, neighbours, LLDP);
# - key authentication: user "sensor", key $STATE/dist/netconf/netconf-key (made at start);
# - the sensor's known_hosts for it is $STATE/netconf_known_hosts.
# It runs with the project's venv (the PyPI netconf package); without one (no `make setup`)
# the lab comes up without NETCONF and says so.
NETCONF_PORT=830

start_lab_netconf() {
  local py="$LAB_DIR/../.venv/bin/python"
  if [[ ! -x $py ]] || ! "$py" -c 'import netconf' 2>/dev/null; then
    log "no project venv with the netconf package (make setup): dist comes up without NETCONF"
    return 0
  fi
  mkdir -p "$STATE/dist/netconf"
  rm -f "$STATE/dist/netconf/ready"
  setsid ip netns exec es-dist "$py" "$LAB_DIR/bin/netconf-server" "$STATE" "$DIST_MGMT_IP" "$NETCONF_PORT" \
    </dev/null >>"$STATE/dist/netconf.log" 2>&1 &
  echo $! >"$STATE/dist/netconf.pid"
  wait_for "NETCONF on dist" 20 test -s "$STATE/dist/netconf/ready"
}
