#!/usr/bin/env bash
# Fleet latency to the painted tile: the real supervisor app (webview under Xvfb, driven
# by tauri-driver + WebKitWebDriver) signed in on the fleet view while STATIONS synthetic
# stations (bonder_fleet::synth) publish to the scenario's own mosquitto (free port) for
# SECONDS; prints window.__fleetPaint() (station status time stamp -> tile painted:
# n, p50, p90, p99, max in ms) and the resident memory of the app and of its
# WebKitWebProcess. Debug build; PROFILE=release for a release build.
#   scripts/supervisor-paint-latency.sh [SECONDS] [STATIONS]     (defaults 120, 50)
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_tauri_deps
export TAURI_DRIVER="${TAURI_DRIVER:-$(need_tauri_driver)}"
need_apt mosquitto
cd "$REPO"
export PAINT_SECONDS="${1:-120}" PAINT_STATIONS="${2:-50}"
profile=()
if [ "${PROFILE:-debug}" = release ]; then profile=(--release); fi
cargo test "${profile[@]}" -p bonder-supervisor --test e2e -- --ignored --exact \
  fleet_paint_latency_under_load --nocapture
