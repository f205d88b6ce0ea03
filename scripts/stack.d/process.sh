# shellcheck shell=bash
# scripts/stack: processes (pid files, stopping), ports and logged setup commands.

# True if $1 is a live (non-zombie) pid whose command line contains $2.
pid_is_ours() {
  local pid=$1 needle=$2 args
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' args 2>/dev/null < "/proc/$pid/cmdline" || return 1
  [[ " ${args[*]} " == *"$needle"* ]]   # a zombie has an empty cmdline
}

# Prints the pid recorded in pid file $1 if that process is ours ($2 = needle).
pidfile_pid() {
  local file=$1 needle=$2 pid
  [[ -r $file ]] || return 1
  read -r pid 2> /dev/null < "$file" || return 1
  pid_is_ours "$pid" "$needle" || return 1
  echo "$pid"
}

# SIGTERM, wait up to $3 s, then SIGKILL.
stop_pid() {
  local pid=$1 needle=$2 grace=$3 label=$4 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 20; i++)); do
    pid_is_ours "$pid" "$needle" || return 0
    sleep 0.05
  done
  log "$label (pid $pid) ignored SIGTERM for ${grace} s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_is_ours "$pid" "$needle" || return 0
    sleep 0.05
  done
  die "$label (pid $pid) survived SIGKILL"
}

port_in_use() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First port >= $1 nobody listens on and not in the remaining arguments.
free_port() {
  local p=$1 taken
  shift
  for ((; p < 65535; p++)); do
    for taken in "$@"; do [[ $p == "$taken" ]] && continue 2; done
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port from $1"
}

# HTTP status of an anonymous GET / on 127.0.0.1:$1 (empty if nothing answers).
http_status() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3
    read -r -t 5 _ code _ <&3 && echo "$code"
  ) 2>/dev/null || true
}

# Runs a setup command with its output in a log; shows the log's tail on failure.
run_logged() {
  local logfile=$1
  shift
  # 9>&-: daemons must not inherit the lock fd, or they hold the lock for their whole life.
  if ! "$@" 9>&- >> "$logfile" 2>&1; then
    tail -n 20 "$logfile" >&2 || true
    die "failed: $* (log: $logfile)"
  fi
}
