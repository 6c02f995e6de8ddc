#!/usr/bin/env bash
# Screenshots of the supervisor (fleet, station detail, recipe diff, SPC, reports; both
# languages) into docs/screenshots/supervisor-*.png: the e2e test under Xvfb with a real
# station and a synthetic fleet, X-level screenshots (`import -window root`).
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_tauri_deps
need_apt mosquitto
export TAURI_DRIVER="${TAURI_DRIVER:-$(need_tauri_driver)}"
cd "$REPO"
cargo build -p bonder-station
SUPERVISOR_SCREENSHOTS="$REPO/docs/screenshots" \
  cargo test -p bonder-supervisor --test e2e -- --nocapture
