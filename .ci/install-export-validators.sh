#!/usr/bin/env bash
# Installs the engines' own validators that tests/it/export_verify.rs runs on every export:
# - systemd-analyze (Debian's systemd package; already on most machines, then a no-op);
# - kubernetes-validate, pinned in .ci/kubernetes-validate.txt, into the ignored .venv
#   (python3-venv is installed first when Python's venv/ensurepip is missing).
# Called by .ci/run; safe to run by hand. Measured here: about 10 s when apt has nothing to do.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_updated=""
apt_install() {
    if [[ -z "$apt_updated" ]]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "installing systemd (for systemd-analyze verify)"
    apt_install systemd
fi
systemd-analyze --version | head -1

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "installing python3-venv"
    apt_install python3-venv
fi

venv="$root/.venv"
want="$(grep -E '^kubernetes-validate==' "$root/.ci/kubernetes-validate.txt")"
if [[ ! -x "$venv/bin/kubernetes-validate" ]] \
    || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF "$want"; then
    echo "installing ${want} into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$root/.ci/kubernetes-validate.txt"
fi
echo "kubernetes-validate $("$venv/bin/kubernetes-validate" --version)"
