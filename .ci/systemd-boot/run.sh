#!/usr/bin/env bash
# Boots Debian with systemd in a container (systemd-nspawn) and runs
# examples/systemd's units in it, as an operator would install them:
# gatehouse.service (Type=notify, DynamicUser, the configuration as a
# credential) with its drop-in for port 443, and the nightly backup. check-inside.sh checks them from
# inside and leaves its verdict in the root file system.
#
#   .ci/systemd-boot/run.sh BINARY ROOTFS_CACHE_DIR
#
# The root file system (debootstrap of bookworm, about 5 minutes) is kept
# in ROOTFS_CACHE_DIR and copied for each run.
set -euo pipefail
bin=$1
cache=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

base="$cache/nspawn-bookworm"
if [ ! -x "$base/lib/systemd/systemd" ]; then
  rm -rf "$base.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$base.tmp" http://deb.debian.org/debian >/dev/null
  mv "$base.tmp" "$base"
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"

install -m 0755 "$bin" "$root/usr/local/bin/gatehouse"
install -m 0644 "$repo"/examples/systemd/gatehouse.service "$repo"/examples/systemd/gatehouse-backup.service "$repo"/examples/systemd/gatehouse-backup.timer "$root/etc/systemd/system/"
install -D -m 0644 "$repo/examples/systemd/gatehouse.service.d/low-ports.conf" "$root/etc/systemd/system/gatehouse.service.d/low-ports.conf"
# Port 443, as the README's walk-through: the drop-in must make that work.
install -D -m 0600 /dev/stdin "$root/etc/gatehouse/gatehouse.yaml" <<'YAML'
addr: 127.0.0.1:443
log: {format: json}
YAML
install -m 0755 "$here/check-inside.sh" "$root/usr/local/bin/check-inside"
cat > "$root/etc/systemd/system/check-inside.service" <<'UNIT'
[Unit]
After=gatehouse.service multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/check-inside
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/gatehouse.service /etc/systemd/system/check-inside.service "$root/etc/systemd/system/multi-user.target.wants/"

# --register=no and --keep-unit: the host's PID 1 need not be systemd.
timeout 300 systemd-nspawn -q --register=no --keep-unit --private-network -D "$root" -b >"$root.console" 2>&1 || true
result=$(cat "$root/root/check.result" 2>/dev/null || echo "FAIL: the check did not run (console below)")
if [ "$result" != PASS ]; then
  echo "$result"
  cat "$root/root/check.log" 2>/dev/null || tail -n 40 "$root.console"
  rm -f "$root.console"
  exit 1
fi
rm -f "$root.console"
echo "systemd in a container: gatehouse.service and gatehouse-backup ran as installed: PASS"
