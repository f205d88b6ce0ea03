# shellcheck shell=bash
# scripts/stack: the private PostgreSQL cluster (pg_* functions).

# Newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, or the one matching an existing cluster.
pg_bin_dir() {
  local dir major
  if [[ -r $PG_DIR/PG_VERSION ]]; then
    read -r major < "$PG_DIR/PG_VERSION"
    dir=/usr/lib/postgresql/$major/bin
    [[ -x $dir/initdb && -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    return 1
  fi
  local best=''
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb && -x $dir/pg_ctl ]] || continue
    major=$(basename -- "$(dirname -- "$dir")")
    [[ -z $best || $major -gt $(basename -- "$(dirname -- "$best")") ]] && best=$dir
  done
  [[ -n $best ]] && echo "$best"
}

# initdb and postgres refuse to run as root: use the postgres OS user then.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@" 9>&-)
  else
    "$@" 9>&-
  fi
}
pg_chown() { if is_root; then chown postgres:postgres -- "$@"; fi; }

pg_pid() { pidfile_pid "$PG_DIR/postmaster.pid" "$PG_DIR"; }

# Live processes working in our data directory (postgres chdirs there): orphaned children of a
# postmaster that was killed. A zombie has no cwd, so it does not count.
pg_dir_pids() {
  local d pid
  for d in /proc/[0-9]*; do
    [[ $d/cwd -ef $PG_DIR ]] || continue
    pid=${d#/proc/}
    [[ $pid != "$BASHPID" ]] && echo "$pid"
  done
  return 0
}

# After a kill -9 the old postmaster can stay a zombie for a while (PID 1 may reap late) and its
# children a moment longer; pg_ctl refuses to start while postmaster.pid names a live pid.
pg_clear_stale() {
  local file=$PG_DIR/postmaster.pid pid i orphans
  [[ -e $file ]] || return 0
  read -r pid 2> /dev/null < "$file" || pid=''
  for ((i = 0; i < 100; i++)); do
    orphans=$(pg_dir_pids)
    if [[ -z $orphans ]]; then
      [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null || return 0
    elif ((i == 50)); then
      # shellcheck disable=SC2086 # one word per pid
      kill -KILL $orphans 2> /dev/null || true
    fi
    sleep 0.1
  done
  [[ -z $(pg_dir_pids) ]] || die "old PostgreSQL processes in $PG_DIR do not exit"
  rm -f -- "$file"   # only a zombie is left
}

# initdb and postgres run as the postgres OS user when we are root, and refuse a data directory
# they cannot reach (say, a clone under /root): PostgreSQL then goes to /var/tmp instead.
pg_choose_root() {
  [[ -f $STATE ]] && grep -q '^PG_ROOT=' "$STATE" && return 0   # decided at the first `up`
  if is_root; then
    getent passwd postgres > /dev/null || die "OS user postgres missing (it comes with the postgresql package)"
    if ! runuser -u postgres -- test -x "$STACK_DIR"; then
      local sum
      sum=$(printf '%s' "$STACK_DIR" | cksum)
      set_pg_paths "/var/tmp/offsite-stack-${sum%% *}"
      log "the postgres OS user cannot reach $STACK_DIR: PostgreSQL goes to $PG_ROOT"
      if [[ -e $PG_ROOT && ! -e $PG_ROOT/.offsite-stack ]]; then
        die "$PG_ROOT exists and was not created by scripts/stack"
      fi
      mkdir -p -- "$PG_ROOT"
      chmod 755 -- "$PG_ROOT"
      echo "PostgreSQL of $STACK_DIR" > "$PG_ROOT/.offsite-stack"
    fi
  fi
  save_state
}

pg_init() {
  if [[ -e $PG_DIR && ! -e $PG_ROOT/.pg-initialized ]]; then
    log "removing incomplete PostgreSQL cluster"
    rm -rf -- "$PG_DIR"
  fi
  [[ -e $PG_DIR ]] && return 0
  local t0 pwfile
  t0=$(now)
  mkdir -m 700 -- "$PG_DIR"
  pg_chown "$PG_DIR"
  pwfile=$(mktemp "$PG_ROOT/.pgpw.XXXXXX")
  printf '%s\n' "$PG_PASSWORD" > "$pwfile"
  pg_chown "$pwfile"
  touch "$PG_LOG" && pg_chown "$PG_LOG"
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR" -U "$PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
      -E UTF8 --no-locale --no-sync >> "$PG_LOG" 2>&1; then
    rm -f -- "$pwfile"
    tail -n 20 "$PG_LOG" >&2
    die "initdb failed (log: $PG_LOG)"
  fi
  rm -f -- "$pwfile"
  # Our settings live in a file of their own, rewritten on every start (pg_write_conf).
  echo "include_if_exists = 'stack.conf'" >> "$PG_DIR/postgresql.conf"
  touch "$PG_ROOT/.pg-initialized"
  log "PostgreSQL cluster created in $(elapsed "$t0")"
}

pg_write_conf() {
  render postgresql-stack.conf "$PG_DIR/stack.conf" PG_PORT PG_SOCK
  pg_chown "$PG_DIR/stack.conf"
}

# Returns 98 if the port is taken: 55432 and up lie in Linux's ephemeral port range, so the
# local end of any outgoing connection can hold it although nothing listens there.
pg_start() {
  local offset
  mkdir -p -- "$PG_SOCK"
  chmod 700 -- "$PG_SOCK"
  pg_chown "$PG_SOCK"
  touch "$PG_LOG" && pg_chown "$PG_LOG"
  offset=$(stat -c %s "$PG_LOG")
  pg_write_conf
  # shellcheck disable=SC2094 # pg_ctl's own messages go to the server log too
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_LOG" -w -t 60 -s start >> "$PG_LOG" 2>&1 && return 0
  if tail -c +$((offset + 1)) "$PG_LOG" | grep -q 'could not create any TCP/IP sockets'; then
    return 98
  fi
  tail -n 20 "$PG_LOG" >&2
  die "PostgreSQL did not start (log: $PG_LOG)"
}

# Reuse the port unless someone else took it meanwhile.
pg_choose_port() {
  if [[ -z $PG_PORT ]] || port_in_use "$PG_PORT"; then
    [[ -n $PG_PORT ]] && log "PostgreSQL port $PG_PORT is taken by another process: picking another"
    PG_PORT=$(free_port "$PG_PORT_START" "$MON_PORT" "$RGW_PORT")
    save_state
  fi
}

pg_psql() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=10 PGSSLMODE=disable \
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"
}

pg_create_db() {
  pg_psql -d postgres -tA > /dev/null <<SQL || die "could not create database $PG_DB (log: $PG_LOG)"
SELECT 'CREATE DATABASE $PG_DB' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
}

pg_stop() {
  local pid orphans
  if pid=$(pg_pid); then
    if [[ -z $PG_BIN ]] || ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w -t 30 -s stop > /dev/null 2>&1; then
      stop_pid "$pid" "$PG_DIR" 10 postgres
    fi
  fi
  orphans=$(pg_dir_pids)
  if [[ -n $orphans ]]; then
    log "killing orphaned PostgreSQL processes: $orphans"
    # shellcheck disable=SC2086 # one word per pid
    kill -KILL $orphans 2> /dev/null || true
  fi
}
