# shellcheck shell=bash
# scripts/stack: settings, paths, logging, the stack directory and its state and secrets files.
# Sourced by scripts/stack, which sets SCRIPT_DIR, REPO_DIR and STACK_DIR first.

# Settings and paths, also used by the other parts (which shellcheck checks one by one too).
# shellcheck disable=SC2034
{
  BUCKET=offsite-test
  RETENTION_DAYS=1
  PG_USER=offsite
  PG_DB=offsite_demo
  PG_PORT_START=55432
  RGW_PORT_START=7480
  MON_PORT_START=3300
  MARKER=$STACK_DIR/.offsite-stack   # proves we created the directory
  STATE=$STACK_DIR/state             # ports, fsid (not secret)
  SECRETS=$STACK_DIR/secrets         # passwords and keys, 0600
  ENV_FILE=$STACK_DIR/env
  CEPH_DIR=$STACK_DIR/ceph
  CEPH_CONF=$CEPH_DIR/ceph.conf
  CEPH_SETUP_LOG=$CEPH_DIR/log/stack-setup.log
  TEMPLATE_DIR=$SCRIPT_DIR/stack.d/templates
}
MEMSTORE_GIB=${STACK_MEMSTORE_GIB:-4}
[[ $MEMSTORE_GIB =~ ^[1-9][0-9]*$ ]] || { echo "stack: STACK_MEMSTORE_GIB must be a whole number of GiB (got '$MEMSTORE_GIB')" >&2; exit 2; }

# PostgreSQL lives in $PG_ROOT: $STACK_DIR unless the postgres OS user cannot reach it (see pg_choose_root).
set_pg_paths() {
  PG_ROOT=$1
  PG_DIR=$PG_ROOT/pg
  PG_SOCK=$PG_ROOT/pg-socket
  PG_LOG=$PG_ROOT/pg.log
}
set_pg_paths "$STACK_DIR"

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }
now() { echo "${EPOCHREALTIME/./}"; }   # microseconds
elapsed() { local us=$(( $(now) - $1 )); printf '%d.%01d s' $((us / 1000000)) $((us % 1000000 / 100000)); }
is_root() { [[ $EUID -eq 0 ]]; }

# Random hex string of $1 bytes (od reads exactly N bytes: no SIGPIPE under pipefail).
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Writes template $1 (from stack.d/templates/) to file $2, each @NAME@ replaced by the value of
# variable NAME, one of the names after $2. Lines starting with ## are comments of the template
# only. A placeholder with no name given is an error, not an empty value.
render() {
  local tpl=$TEMPLATE_DIR/$1 out=$2 line rest name
  shift 2
  [[ -r $tpl ]] || die "template $tpl missing"
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == '##'* ]] && continue
    rest=$line
    for name in "$@"; do
      rest=${rest//"@$name@"/}
      line=${line//"@$name@"/"${!name}"}   # quoted: & in a value stays &
    done
    [[ $rest =~ @[A-Z_]+@ ]] && die "template $tpl: no value for ${BASH_REMATCH[0]}"
    printf '%s\n' "$line"
  done < "$tpl" > "$out"
}

# ---------------------------------------------------------------- stack directory, state, secrets

# Creates the stack directory; refuses a non-empty one we did not create.
prepare_dir() {
  if [[ -d $STACK_DIR && ! -e $MARKER && -n $(ls -A -- "$STACK_DIR") ]]; then
    die "$STACK_DIR exists, is not empty and was not created by scripts/stack; refusing to use it"
  fi
  mkdir -p -- "$STACK_DIR"
  chmod 755 -- "$STACK_DIR"   # the postgres OS user must traverse it
  [[ -e $MARKER ]] || echo "created by $SCRIPT_DIR/stack" > "$MARKER"
}

# One `up`/`down` at a time per stack. Daemons must not inherit fd 9 (they would hold the
# lock forever): every spawn closes it.
take_lock() {
  exec 9> "$STACK_DIR/.lock"
  flock -w 600 9 || die "another scripts/stack is running on $STACK_DIR"
}

load_files() {
  PG_PORT='' MON_PORT='' RGW_PORT='' CEPH_FSID='' PG_PASSWORD='' PG_ROOT=$STACK_DIR
  ADMIN_ACCESS_KEY_ID='' ADMIN_SECRET_ACCESS_KEY='' WRITER_ACCESS_KEY_ID='' WRITER_SECRET_ACCESS_KEY=''
  READER_ACCESS_KEY_ID='' READER_SECRET_ACCESS_KEY=''
  # shellcheck disable=SC1090 # written by save_state
  [[ -f $STATE ]] && source "$STATE"
  # shellcheck disable=SC1090 # written by save_secrets
  [[ -f $SECRETS ]] && source "$SECRETS"
  set_pg_paths "$PG_ROOT"
}

# Writes KEY=value lines for the named variables to $1 atomically, mode 0600.
write_vars() {
  local file=$1 tmp name
  shift
  tmp=$(mktemp "$file.XXXXXX")
  for name in "$@"; do printf '%s=%q\n' "$name" "${!name}"; done > "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
}
save_state() { write_vars "$STATE" PG_PORT MON_PORT RGW_PORT CEPH_FSID PG_ROOT; }
save_secrets() {
  write_vars "$SECRETS" PG_PASSWORD ADMIN_ACCESS_KEY_ID ADMIN_SECRET_ACCESS_KEY \
    WRITER_ACCESS_KEY_ID WRITER_SECRET_ACCESS_KEY READER_ACCESS_KEY_ID READER_SECRET_ACCESS_KEY
}
