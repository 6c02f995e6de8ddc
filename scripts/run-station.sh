#!/usr/bin/env bash
# Runs the station against the built-in simulator (embedded defaults). Extra arguments go
# to bonder-station, e.g. --controller 127.0.0.1:1502 --for-seconds 30.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
cd "$REPO"
cargo build --release -p bonder-station
exec "$CARGO_TARGET_DIR/release/bonder-station" --headless "$@"
