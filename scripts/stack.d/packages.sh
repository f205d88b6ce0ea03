# shellcheck shell=bash
# scripts/stack: the Debian packages and node modules the stack needs, installed when missing.

ensure_packages() {
  local pkgs=() c
  pg_bin_dir > /dev/null || pkgs+=(postgresql)
  for c in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$c" > /dev/null || { pkgs+=(ceph-mon ceph-osd radosgw ceph-common); break; }
  done
  command -v uuidgen > /dev/null || pkgs+=(uuid-runtime)
  command -v age > /dev/null || pkgs+=(age)
  command -v zstd > /dev/null || pkgs+=(zstd)
  if ((${#pkgs[@]})); then
    local sudo=()
    if ! is_root; then
      command -v sudo > /dev/null || die "missing packages (${pkgs[*]}); install them as root"
      sudo=(sudo -n)
    fi
    log "installing ${pkgs[*]}"
    local apt_opts=(-o DPkg::Lock::Timeout=600) i
    # apt-get update has no lock timeout of its own: retry while another apt runs.
    for ((i = 1; ; i++)); do
      "${sudo[@]}" apt-get "${apt_opts[@]}" -qq update && break
      ((i < 60)) || die "apt-get update failed"
      sleep 10
    done
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${apt_opts[@]}" "${pkgs[@]}" > /dev/null || die "apt-get install ${pkgs[*]} failed"
    pg_bin_dir > /dev/null || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found"
  fi
  command -v node > /dev/null || die "node is required (for the S3 bucket setup)"
  command -v flock > /dev/null || die "flock (util-linux) is required"
}

# @aws-sdk/client-s3 is resolved from the repo's node_modules (ESM resolution from stack.d/).
ensure_node_modules() {
  [[ -d $REPO_DIR/node_modules/@aws-sdk/client-s3 ]] && return 0
  log "node_modules missing: npm ci"
  (cd -- "$REPO_DIR" && npm ci --no-audit --no-fund > /dev/null) || die "npm ci failed in $REPO_DIR"
  [[ -d $REPO_DIR/node_modules/@aws-sdk/client-s3 ]] || die "@aws-sdk/client-s3 not in $REPO_DIR/node_modules"
}
