# shellcheck shell=bash
# scripts/stack: the env file that `up` writes and `env` prints, for: eval "$(scripts/stack env)".

# POSIX single-quoting for the env file.
shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

write_env() {
  local url_base=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT
  local -a vars=(
    DATABASE_URL "$url_base/$PG_DB"
    OFFSITE_BUCKET "$BUCKET"
    OFFSITE_S3_ENDPOINT "http://127.0.0.1:$RGW_PORT"
    OFFSITE_S3_FORCE_PATH_STYLE true
    AWS_REGION us-east-1
    AWS_ACCESS_KEY_ID "$WRITER_ACCESS_KEY_ID"
    AWS_SECRET_ACCESS_KEY "$WRITER_SECRET_ACCESS_KEY"
    STACK_ADMIN_ACCESS_KEY_ID "$ADMIN_ACCESS_KEY_ID"
    STACK_ADMIN_SECRET_ACCESS_KEY "$ADMIN_SECRET_ACCESS_KEY"
    STACK_WRITER_ACCESS_KEY_ID "$WRITER_ACCESS_KEY_ID"
    STACK_WRITER_SECRET_ACCESS_KEY "$WRITER_SECRET_ACCESS_KEY"
    STACK_READER_ACCESS_KEY_ID "$READER_ACCESS_KEY_ID"
    STACK_READER_SECRET_ACCESS_KEY "$READER_SECRET_ACCESS_KEY"
    STACK_PG_URL_BASE "$url_base"
    STACK_PG_BIN "$PG_BIN"
    STACK_PG_HOST 127.0.0.1
    STACK_PG_PORT "$PG_PORT"
    STACK_PG_USER "$PG_USER"
    STACK_PG_PASSWORD "$PG_PASSWORD"
    STACK_CEPH_CONF "$CEPH_CONF"
  )
  local tmp i
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  {
    echo "# written by scripts/stack up; load with: . $(shquote "$ENV_FILE")"
    for ((i = 0; i < ${#vars[@]}; i += 2)); do
      printf 'export %s=%s\n' "${vars[i]}" "$(shquote "${vars[i + 1]}")"
    done
  } > "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}
