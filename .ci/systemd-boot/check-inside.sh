#!/bin/bash
# Runs inside the booted container (see run.sh), as a unit ordered after
# gatehouse.service: checks the service as systemd runs it, writes PASS or
# the failures to /root/check.result and powers the container off.
exec > /root/check.log 2>&1
set -x
fail=()
check() { local what=$1; shift; "$@" || fail+=("$what"); }

check "gatehouse.service is active (Type=notify: READY=1 arrived)" systemctl is-active --quiet gatehouse.service
[ "$(systemctl show gatehouse.service -p Type --value)" = notify ] || fail+=("Type is not notify")
pid=$(systemctl show gatehouse.service -p MainPID --value)
status=$(cat "/proc/$pid/status")
uid=$(awk '/^Uid:/ {print $2}' <<<"$status")
[ -n "$uid" ] && [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || fail+=("not a dynamic user: uid $uid")
# The drop-in for port 443 grants exactly CAP_NET_BIND_SERVICE (bit 10).
grep -q '^CapEff:[[:space:]]*0000000000000400$' <<<"$status" || fail+=("capabilities other than CAP_NET_BIND_SERVICE: $(grep CapEff <<<"$status")")
grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$status" || fail+=("may gain privileges")
grep -q '^Seccomp:[[:space:]]*2$' <<<"$status" || fail+=("no system call filter")
check "healthcheck" /usr/local/bin/gatehouse healthcheck --config /etc/gatehouse/gatehouse.yaml
exec 3<>/dev/tcp/127.0.0.1/443 && printf 'GET /auth/readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
grep -q '"database":"ok"' <&3 || fail+=("readyz")
db=/var/lib/private/gatehouse/gatehouse.db
[ "$(stat -c '%u %a' "$db")" = "$uid 600" ] || fail+=("database not the service's, 0600: $(stat -c '%u %a' "$db")")
journalctl -u gatehouse -o cat | grep -q 'open the setup link' || fail+=("no setup link in the journal")

check "backup service" systemctl start gatehouse-backup.service
backup=$(ls /var/lib/private/gatehouse-backups/gatehouse-*.db 2>/dev/null | head -1)
[ -n "$backup" ] && [ "$(stat -c '%u %a' "$backup")" = "$uid 600" ] || fail+=("no backup of the service's user, 0600: $backup")
check "backup timer" systemctl enable --now gatehouse-backup.timer
systemctl list-timers --all | grep -q gatehouse-backup.timer || fail+=("timer not listed")

check "stop" systemctl stop gatehouse.service
[ "$(systemctl show gatehouse.service -p Result --value)" = success ] || fail+=("stopped with $(systemctl show gatehouse.service -p Result --value)")
journalctl -u gatehouse -o cat | grep -q '"msg":"stopped"' || fail+=("no clean stop in the journal")

journalctl -u gatehouse -u gatehouse-backup --no-pager -o cat
if [ ${#fail[@]} -eq 0 ]; then echo PASS > /root/check.result; else printf 'FAIL: %s\n' "${fail[@]}" > /root/check.result; fi
systemctl poweroff
