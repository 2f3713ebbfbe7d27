#!/usr/bin/env bash
# Boots the systemd export of boot.kdl in a real systemd (systemd-nspawn -b on a Debian tree)
# and checks what each program shows: the mapping at work, not just accepted by verify.
# Optional and not part of CI: it needs root, Debian's systemd-container and debootstrap, and
# (once) a download of about 240 MB. Measured here: debootstrap 1 min 20 s, a boot 7 s.
#
#   tests/export_nspawn/check.sh [ROOT]     # ROOT defaults to /var/tmp/tm-nspawn-root
#
# A missing ROOT is made with debootstrap. Exit status 0 when every expectation holds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
root="${1:-/var/tmp/tm-nspawn-root}"

for tool in systemd-nspawn debootstrap; do
    command -v "$tool" >/dev/null || {
        echo "needs $tool: apt-get install -y systemd-container debootstrap" >&2
        exit 2
    }
done
if [[ ! -x "$root/usr/lib/systemd/systemd" ]]; then
    debootstrap --variant=minbase --include=systemd,systemd-sysv,procps bookworm "$root" \
        http://deb.debian.org/debian
fi

taskmaster="${TASKMASTER:-$repo/target/debug/taskmaster}"
[[ -x "$taskmaster" ]] || (cd "$repo" && cargo build --quiet)

units="$root/etc/systemd/system"
rm -f "$units"/tm-*
"$taskmaster" export systemd "$here/boot.kdl" --dir "$units" >/dev/null
wants="$units/multi-user.target.wants"
mkdir -p "$wants"
ln -sf ../tm-boot.target "$wants/tm-boot.target"
ln -sf ../tm-verify.service "$wants/tm-verify.service"

# The verifier runs inside the container once the target is up, writes its report and
# powers the container off.
cat >"$root/usr/local/bin/tm-verify" <<'EOF'
#!/bin/sh
sleep 6
show() { systemctl show -p "$2" --value "$1.service"; }
{
    for u in tm-ticker@0 tm-ticker@1 tm-crasher@0 tm-clean@0 tm-termed@0 tm-zero@0 tm-once@0 tm-limited@0; do
        echo "$u active=$(show $u ActiveState) restarts=$(show $u NRestarts) result=$(show $u Result)"
    done
    pid=$(show tm-ticker@0 MainPID)
    echo "umask=$(awk '/^Umask/ {print $2}' /proc/$pid/status)"
    echo "env=$(tr '\0' '\n' </proc/$pid/environ | grep '^GREETING=')"
    echo "cwd=$(readlink /proc/$pid/cwd)"
    echo "argv=$(tr '\0' ' ' </proc/$pid/cmdline)"
    echo "journal=$(journalctl -u tm-ticker@1 -n 1 -o cat)"
    systemctl stop tm-boot.target
    echo "after-stop=$(systemctl is-active tm-ticker@0 tm-ticker@1 tm-crasher@0 | tr '\n' ' ')"
} >/results/report.txt 2>&1
systemctl poweroff
EOF
chmod +x "$root/usr/local/bin/tm-verify"
cat >"$units/tm-verify.service" <<'EOF'
[Unit]
After=tm-boot.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/tm-verify
EOF

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
# --register=no --keep-unit: nspawn runs without the host's system bus.
timeout 120 systemd-nspawn -D "$root" --register=no --keep-unit --bind="$results:/results" -b \
    >"$results/boot.log" 2>&1 || true
report="$results/report.txt"
[[ -s "$report" ]] || { echo "no report; boot log:" >&2; cat "$results/boot.log" >&2; exit 1; }
cat "$report"

failed=0
expect() { # description, extended regex a line of the report must match
    if grep -Eq "$2" "$report"; then echo "ok   $1"; else echo "FAIL $1" >&2; failed=1; fi
}
expect "ticker runs, both instances" '^tm-ticker@1 active=active restarts=0 '
expect "exit 3 (unexpected) restarted" '^tm-crasher@0 active=[a-z]+ restarts=[2-9]'
expect "exit 2 (in exitcodes) not restarted" '^tm-clean@0 active=inactive restarts=0 result=success'
expect "death by SIGTERM restarted" '^tm-termed@0 active=[a-z]+ restarts=[2-9]'
expect "exit 0 (not in exitcodes) restarted" '^tm-zero@0 active=[a-z]+ restarts=[2-9]'
expect "autostart #false not started" '^tm-once@0 active=inactive restarts=0'
expect "no start limit (over 5 restarts)" '^tm-limited@0 active=[a-z]+ restarts=([6-9]|[1-9][0-9]+) '
expect "umask 027" '^umask=0027$'
expect "env with a space" '^env=GREETING=hello world$'
expect "workingdir" '^cwd=/tmp$'
expect "argv[0] as written" '^argv=sh -c while true'
expect "\$\$ and % reach the shell" '^journal=tick hello world 100% [0-9]+$'
expect "stopping the target stops them all" '^after-stop=inactive inactive inactive $'
exit "$failed"
