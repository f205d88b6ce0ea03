# shellcheck shell=bash
# scripts/stack: the single-node Ceph cluster (mon, OSD, radosgw daemons; ceph_* functions).
# The recipe and the reasons for its odd settings: docs/dev/s3-test-server.md.

# name:grace-seconds, in start order; stopped in reverse (grace values from
# docs/dev/s3-test-server.md §3).
CEPH_DAEMONS=(mon.a:10 osd.0:60 client.rgw.a:3)

ceph_pid() { pidfile_pid "$CEPH_DIR/run/$1.pid" "$CEPH_CONF"; }

ceph() { command ceph -c "$CEPH_CONF" "$@"; }

# Settings and their reasons: templates/ceph.conf.
ceph_write_conf() {
  # shellcheck disable=SC2034 # used by render
  local MEMSTORE_BYTES=$(( MEMSTORE_GIB * 1024 * 1024 * 1024 ))
  render ceph.conf "$CEPH_CONF.tmp" CEPH_FSID MON_PORT RGW_PORT CEPH_DIR MEMSTORE_BYTES
  mv -f "$CEPH_CONF.tmp" "$CEPH_CONF"
}

# Fails (after showing the logs) if one of our daemons has died. A daemon writes its pid file a
# little after daemonizing: a missing pid file counts as dead only $WAIT_GRACE s after the start.
WAIT_GRACE=20
ceph_check_alive() {
  local since=$1 entry name pidfile
  shift
  for entry in "$@"; do
    name=${entry%%:*}
    pidfile=$CEPH_DIR/run/$name.pid
    ceph_pid "$name" > /dev/null && continue
    [[ ! -e $pidfile ]] && (($(now) - since < WAIT_GRACE * 1000000)) && continue
    tail -n 15 "$CEPH_DIR/log/$name.log" >&2 2>/dev/null || true
    die "ceph $name died (log: $CEPH_DIR/log/$name.log)"
  done
}

# Starts daemon $1 (mon.a, osd.0, client.rgw.a) in the background; it daemonizes itself.
ceph_spawn() {
  local name=$1
  rm -f -- "$CEPH_DIR/run/$name.pid"   # stale after a kill -9; checked by ceph_check_alive
  case $name in
    mon.a) run_logged "$CEPH_SETUP_LOG" ceph-mon -c "$CEPH_CONF" -i a ;;
    osd.0) run_logged "$CEPH_SETUP_LOG" ceph-osd -c "$CEPH_CONF" -i 0 ;;
    client.rgw.a) run_logged "$CEPH_SETUP_LOG" radosgw -c "$CEPH_CONF" -n client.rgw.a ;;
  esac
}

ceph_wait_osd_up() {
  local i t0
  t0=$(now)
  for ((i = 0; i < 600; i++)); do
    [[ $(ceph osd stat -f json 2>/dev/null) == *'"num_up_osds":1,'* ]] && return 0
    ceph_check_alive "$t0" mon.a osd.0
    sleep 0.1
  done
  die "OSD not up after 60 s (log: $CEPH_DIR/log/osd.0.log)"
}

# Fresh single-node cluster (docs/dev/s3-test-server.md §3, steps 1-6).
ceph_create() {
  if [[ -e $CEPH_DIR ]]; then
    log "removing incomplete Ceph cluster"
    ceph_stop
    rm -rf -- "$CEPH_DIR"
  fi
  mkdir -p -- "$CEPH_DIR"
  chmod 700 -- "$CEPH_DIR"
  mkdir -p -- "$CEPH_DIR"/{run,log,mon,osd/ceph-0,rgw,crash}
  CEPH_FSID=$(uuidgen)
  if port_in_use "$MON_PORT"; then
    # shellcheck disable=SC2153 # not a misspelling: PG_PORT is set in common.sh (load_files)
    MON_PORT=$(free_port "$MON_PORT_START" "$PG_PORT" "$RGW_PORT")
  fi
  save_state
  ceph_write_conf
  local osd_uuid osd_id l=$CEPH_SETUP_LOG
  osd_uuid=$(uuidgen)
  run_logged "$l" ceph-authtool --create-keyring "$CEPH_DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
  run_logged "$l" monmaptool --create --fsid "$CEPH_FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$CEPH_DIR/monmap"
  run_logged "$l" ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring"
  ceph_spawn mon.a
  osd_id=$(ceph osd new "$osd_uuid" 2>> "$l") || die "ceph osd new failed (log: $l)"
  [[ $osd_id == 0 ]] || die "ceph osd new returned '$osd_id', expected 0"
  run_logged "$l" ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$osd_uuid"
  ceph_spawn osd.0
  ceph_wait_osd_up
  ceph_spawn client.rgw.a
  STARTED+=(mon.a osd.0 client.rgw.a)
  touch "$STACK_DIR/.ceph-initialized"
}

# Restarts dead daemons on existing data.
ceph_start() {
  local -A running=()
  local entry name pid
  for entry in "${CEPH_DAEMONS[@]}"; do
    name=${entry%%:*}
    pid=$(ceph_pid "$name") && running[$name]=$pid
  done
  ((${#running[@]} == ${#CEPH_DAEMONS[@]})) && return 0
  # A clean stop removes the pid file and saves the memstore (osd fast shutdown = false);
  # after a crash the OSD would come back with only its last saved state, and writes to
  # newer placement groups hang forever.
  if [[ -z ${running[osd.0]:-} && -e $CEPH_DIR/run/osd.0.pid ]]; then
    die "the Ceph OSD was not stopped cleanly (crash, OOM kill or kill -9); its in-memory store lost" \
      "what was written since its last clean stop, so S3 data is inconsistent. Start over with:" \
      "scripts/stack down --purge && scripts/stack up"
  fi
  # A daemon of ours without a valid pid file (say, an interrupted `up`) would hold its port.
  for entry in $(ceph_stray_pids); do
    pid=${entry#*:}
    [[ " ${running[*]} " == *" $pid "* ]] || stop_pid "$pid" "$CEPH_CONF" 10 "${entry%%:*}"
  done
  [[ -n ${running[mon.a]:-} ]] || ! port_in_use "$MON_PORT" \
    || die "mon port $MON_PORT (fixed in the monmap) is taken by another process"
  if [[ -z ${running[client.rgw.a]:-} ]] && port_in_use "$RGW_PORT"; then
    log "RGW port $RGW_PORT is taken by another process: picking another"
    RGW_PORT=$(free_port "$RGW_PORT_START" "$PG_PORT" "$MON_PORT")
    save_state
  fi
  local rgw_crashed=''
  [[ -z ${running[client.rgw.a]:-} && -e $CEPH_DIR/run/client.rgw.a.pid ]] && rgw_crashed=1
  ceph_write_conf
  for entry in "${CEPH_DAEMONS[@]}"; do
    name=${entry%%:*}
    [[ -n ${running[$name]:-} ]] && continue
    [[ $name == client.rgw.a && -n $rgw_crashed ]] && ceph_evict_dead_rgw
    ceph_spawn "$name"
    STARTED+=("$name")
  done
}

# Stragglers: daemons of this stack whose pid file is gone.
ceph_stray_pids() {
  local f pid comm
  for f in /proc/[0-9]*/comm; do
    pid=${f#/proc/}
    pid=${pid%/comm}
    read -r comm 2> /dev/null < "$f" || continue
    case $comm in ceph-mon | ceph-osd | radosgw) pid_is_ours "$pid" "$CEPH_CONF" && echo "$comm:$pid" ;; esac
  done
  return 0
}

ceph_stop() {
  local i entry name grace pid
  for ((i = ${#CEPH_DAEMONS[@]} - 1; i >= 0; i--)); do
    entry=${CEPH_DAEMONS[i]}
    name=${entry%%:*}
    grace=${entry#*:}
    pid=$(ceph_pid "$name") || continue
    stop_pid "$pid" "$CEPH_CONF" "$grace" "ceph $name"
  done
  for entry in $(ceph_stray_pids); do
    stop_pid "${entry#*:}" "$CEPH_CONF" 10 "${entry%%:*}"
  done
}
