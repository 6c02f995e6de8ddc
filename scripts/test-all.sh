#!/usr/bin/env bash
# Runs every test of the workspace (unit, property, end-to-end against the simulator).
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_tauri_deps
export TAURI_DRIVER="${TAURI_DRIVER:-$(need_tauri_driver)}"
# mosquitto for the gateway tests; Xvfb (need_tauri_deps) and xwininfo for the run
# command's window test (crates/station/tests/run_script.rs).
need_apt mosquitto x11-utils
# python secsgem (SECS/GEM host) for crates/station/tests/secs_gem.rs.
need_python_peers
cd "$REPO"
# The supervisor's tests run target/debug/bonder-station, which this builds first (the
# station package has integration tests); see station_bin() in src-tauri/tests/common.
cargo test --workspace "$@"
# The V4L2 camera source (feature `v4l`, bindgen needs libclang): builds, and refuses a
# missing or wrong device clearly. No USB camera is attached in CI.
need_apt libclang-dev
cargo test -p bonder-camera --features v4l --lib
