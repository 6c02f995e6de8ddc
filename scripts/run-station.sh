#!/usr/bin/env bash
# Runs the station against the built-in simulator (--simulate): the touch UI where
# there is a display (DISPLAY or WAYLAND_DISPLAY set), headless otherwise — and says so.
# Extra arguments go to bonder-station, e.g. --headless, --controller 127.0.0.1:1502,
# --for-seconds 30, --camera none.
#
# BONDER_STATION_BIN=PATH runs that binary instead of building the release one (the
# tests use it: a cargo build inside `cargo test` would wait on cargo's own lock).
set -euo pipefail
source "$(dirname "$0")/common.sh"
if [ -z "${BONDER_STATION_BIN:-}" ]; then
  need_rust
  need_build_deps
  need_ui_deps
  cd "$REPO"
  cargo build --release -p bonder-station
  BONDER_STATION_BIN="$CARGO_TARGET_DIR/release/bonder-station"
fi
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run-station: display found: opening the touch UI" >&2
else
  echo "run-station: no display (DISPLAY/WAYLAND_DISPLAY unset): running headless" >&2
fi
# Against the built-in simulator unless a controller is given: the station never starts
# a simulator on its own (its production would reach the plant as real), so say it.
simulate=(--simulate)
for a in "$@"; do
  case "$a" in --controller|--controller=*|--config|--config=*) simulate=() ;; esac
done
exec "$BONDER_STATION_BIN" "${simulate[@]}" "$@"
