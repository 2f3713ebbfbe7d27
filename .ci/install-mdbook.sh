#!/usr/bin/env bash
# Installs mdBook when it is missing (or of another minor version), then builds the user
# guide and fails on any warning mdBook prints. Called by .ci/run.
#
# Only the `search` feature is built: the `serve`/`watch` features pull tokio and axum and
# are not needed to render the book. Measured here: about 1.5 min on 2 loaded cores.
set -euo pipefail

MDBOOK_VERSION="0.5.4"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! command -v mdbook >/dev/null 2>&1 || [[ "$(mdbook --version)" != "mdbook v${MDBOOK_VERSION}" ]]; then
    echo "installing mdbook ${MDBOOK_VERSION}"
    cargo install mdbook --locked --version "${MDBOOK_VERSION}" \
        --no-default-features --features search
fi
mdbook --version

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
mdbook build "$root/book" >"$log" 2>&1 || status=$?
cat "$log"
if [[ "$status" -ne 0 ]]; then
    echo "mdbook build failed (exit $status)" >&2
    exit "$status"
fi
if grep -E '(WARN|ERROR)' "$log" >/dev/null; then
    echo "mdbook build printed warnings; fix them" >&2
    exit 1
fi
echo "book built: $root/book/book/index.html"
