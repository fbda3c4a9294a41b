#!/usr/bin/env bash
# A single-node Ceph with its S3 gateway (RADOS Gateway), for the tests that must meet a real S3
# implementation: V4 signatures checked, Content-MD5 verified, multipart uploads as S3 does them.
#
#   ceph-rgw.sh install           install the Debian packages when missing (needs root or sudo)
#   ceph-rgw.sh start [STATEDIR]  start one monitor, one OSD on an in-memory store (memstore),
#                                 pools of size 1, one radosgw on a free port of 127.0.0.1, and an
#                                 S3 user with fresh keys; prints the endpoint; reuses a running one
#   ceph-rgw.sh env [STATEDIR]    print MQBAK_TEST_RGW_ENDPOINT, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY
#                                 as NAME=value lines (for `set -a; source <(...)`)
#   ceph-rgw.sh stop [STATEDIR]   stop the daemons and delete everything under STATEDIR's ceph/
#   ceph-rgw.sh status [STATEDIR] print "running <endpoint>" (exit 0) or "not running" (exit 1)
#
# Nothing is installed system-wide by start: configuration, keyrings, sockets, logs and the
# monitor's database live in STATEDIR/ceph (default: the shared state directory of lib.sh); the
# OSD keeps its objects in memory, so stop leaves nothing behind. Runs as any user; listens on
# 127.0.0.1 only. Start-up time and memory: see README.md in this folder.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)

state_paths() {
  STATE=${1:-$(mqbak_state_dir)}
  DIR=$STATE/ceph
  CONF=$DIR/ceph.conf
  ENVFILE=$DIR/s3.env
  URLFILE=$DIR/endpoint
}


random_alnum() {
  local n=$1 out=""
  while ((${#out} < n)); do
    out+=$(head -c 64 /dev/urandom | base64 | tr -dc "$2")
  done
  printf '%s\n' "${out:0:n}"
}

ceph_cmd() { timeout 60 ceph -c "$CONF" -n client.admin "$@"; }

daemon_alive() {
  local name=$1 pid
  [[ -f $DIR/$name.pid ]] || return 1
  pid=$(<"$DIR/$name.pid")
  pid_is "$pid" "$2"
}

gateway_running() {
  daemon_alive mon ceph-mon && daemon_alive osd ceph-osd && daemon_alive rgw radosgw && [[ -s $URLFILE ]] &&
    http_ok "$(<"$URLFILE")"
}

# start_daemon NAME COMMAND...: runs COMMAND in the foreground mode of Ceph's daemons
# (-f: no fork, logs to its log file) in its own session, and records its pid.
start_daemon() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$DIR/$name.out" 2>&1 &
  printf '%s\n' "$!" >"$DIR/$name.pid"
}

fail_start() {
  local f
  for f in "$DIR"/*.out "$DIR"/log/*.log; do
    [[ -s $f ]] || continue
    printf '\n--- %s (last lines)\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
  cmd_stop "$STATE"
  die "$*"
}

cmd_install() {
  ensure_commands "the Ceph RADOS Gateway" ceph-mon=ceph-mon ceph-osd=ceph-osd radosgw=radosgw radosgw-admin=radosgw ceph=ceph-common
}

cmd_start() {
  state_paths "${1:-}"
  if gateway_running; then
    cat "$URLFILE"
    return
  fi
  for tool in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin; do
    command -v "$tool" >/dev/null || die "$tool is not installed: run 'bash $HERE/ceph-rgw.sh install' (Debian packages ${PACKAGES[*]})"
  done
  cmd_stop "$STATE"
  mkdir -p "$DIR"/{mon,osd,run,log}
  local t0=$SECONDS fsid mon_port rgw_port osd_uuid osd_id access secret
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)

  # Why each setting: size 1 and few placement groups because there is one OSD (rgw makes about
  # eight pools: at the default 32 PGs each they pass the per-OSD limit); msgr2 only, one port;
  # memstore keeps the objects in memory (1 GiB at most) so nothing is left on disk; the health
  # warnings about a lone OSD without replicas are expected here.
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_port]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log
keyring = $DIR/\$name.keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
crash_dir = $DIR/crash
# each pool the gateway creates is one map change: commit them at once, not once a second
paxos_propose_interval = 0.05
paxos_min_wait = 0.01

[mon]
mon_data = $DIR/mon

[osd]
osd_data = $DIR/osd
osd_objectstore = memstore
memstore_device_bytes = 1073741824
osd_journal_size = 0

[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_dns_name = 127.0.0.1
rgw_thread_pool_size = 64
EOF

  # keys: mon. (the monitors' shared key), client.admin (for this script), osd.0, client.rgw
  ceph-authtool --create-keyring "$DIR/mon..keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/mon..keyring" --import-keyring "$DIR/client.admin.keyring" >/dev/null
  ceph-authtool --create-keyring "$DIR/osd.0.keyring" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
  ceph-authtool "$DIR/mon..keyring" --import-keyring "$DIR/osd.0.keyring" >/dev/null
  ceph-authtool --create-keyring "$DIR/client.rgw.keyring" --gen-key -n client.rgw \
    --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
  ceph-authtool "$DIR/mon..keyring" --import-keyring "$DIR/client.rgw.keyring" >/dev/null

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon..keyring" >"$DIR/mon.out" 2>&1 ||
    fail_start "ceph-mon --mkfs failed"
  start_daemon mon ceph-mon -c "$CONF" -f -i a
  wait_until 60 "the Ceph monitor" ceph_cmd mon stat >/dev/null 2>&1 || fail_start "the monitor did not answer"
  local t_mon=$((SECONDS - t0))

  # the OSD: registered under the uuid given to its mkfs; the mon creates its PGs
  osd_id=$(ceph_cmd osd new "$osd_uuid") || fail_start "ceph osd new failed"
  [[ $osd_id == 0 ]] || fail_start "expected OSD id 0, the monitor gave $osd_id"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/osd.out" 2>&1 || fail_start "ceph-osd --mkfs failed"
  start_daemon osd ceph-osd -c "$CONF" -f -i 0
  osd_up() { [[ $(ceph_cmd osd stat -f json 2>/dev/null) == *'"num_up_osds":1'* ]]; }
  wait_until 120 "the OSD to come up" osd_up || fail_start "the OSD did not come up"
  local t_osd=$((SECONDS - t0))

  start_daemon rgw radosgw -c "$CONF" -f -n client.rgw
  wait_until 180 "the RADOS Gateway on 127.0.0.1:$rgw_port" http_ok "http://127.0.0.1:$rgw_port" ||
    fail_start "radosgw did not answer"

  # the S3 user the tests sign with
  access=$(random_alnum 20 'A-Z0-9')
  secret=$(random_alnum 40 'A-Za-z0-9')
  timeout 60 radosgw-admin -c "$CONF" -n client.admin user create --uid=mqbak-test --display-name='mqbak tests' \
    --access-key="$access" --secret-key="$secret" >"$DIR/user.json" 2>>"$DIR/radosgw-admin.out" ||
    fail_start "radosgw-admin user create failed"

  printf 'http://127.0.0.1:%s\n' "$rgw_port" >"$URLFILE"
  {
    printf 'MQBAK_TEST_RGW_ENDPOINT=http://127.0.0.1:%s\n' "$rgw_port"
    printf 'MQBAK_TEST_RGW_ACCESS_KEY_ID=%s\n' "$access"
    printf 'MQBAK_TEST_RGW_SECRET_ACCESS_KEY=%s\n' "$secret"
  } >"$ENVFILE"
  chmod 600 "$ENVFILE"
  printf 'ceph-rgw: started in %ss (monitor up after %ss, OSD after %ss)\n' "$((SECONDS - t0))" "$t_mon" "$t_osd" >&2
  cat "$URLFILE"
}

cmd_env() {
  state_paths "${1:-}"
  [[ -s $ENVFILE ]] || die "no gateway started under $STATE (run: ceph-rgw.sh start${1:+ $1})"
  cat "$ENVFILE"
}

cmd_stop() {
  state_paths "${1:-}"
  local name pid
  # the gateway first, then the OSD, then the monitor: each needs the next to shut down cleanly
  for name in rgw osd mon; do
    [[ -f $DIR/$name.pid ]] || continue
    pid=$(<"$DIR/$name.pid")
    case $name in rgw) pid_is "$pid" radosgw ;; osd) pid_is "$pid" ceph-osd ;; mon) pid_is "$pid" ceph-mon ;; esac &&
      stop_pid "$pid"
  done
  # only ever delete the directory this script creates
  [[ -d $DIR && $DIR == "$STATE/ceph" ]] && rm -rf "$DIR"
  return 0
}

cmd_status() {
  state_paths "${1:-}"
  if gateway_running; then
    printf 'running %s\n' "$(<"$URLFILE")"
  else
    echo "not running"
    return 1
  fi
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  env) cmd_env "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" || exit 1 ;;
  *)
    echo "usage: ${0##*/} install | start [STATEDIR] | env [STATEDIR] | stop [STATEDIR] | status [STATEDIR]" >&2
    exit 2
    ;;
esac
