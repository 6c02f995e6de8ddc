#!/usr/bin/env bash
# Load run: `bondersim --wires-per-s max` into a headless station over TCP for N seconds
# (default 60). Prints the station's summary: bonds/s sustained, lost frames, CPU %, peak
# RSS. Loopback only; stops by itself.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
cd "$REPO"
secs="${1:-60}"
cargo build --release -p bonder-station -p bondersim
sim_out="$(mktemp)"
"$CARGO_TARGET_DIR/release/bondersim" --modbus 127.0.0.1:0 --stream-tcp 127.0.0.1:0 \
  --wires-per-s max --defect-rate 0.002 --autostart >"$sim_out" 2>/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true; rm -f "$sim_out"' EXIT
for _ in $(seq 50); do grep -q '^modbus:' "$sim_out" && break; sleep 0.1; done
modbus="$(sed -n 's/^modbus: //p' "$sim_out")"
echo "simulator on $modbus, station for ${secs}s" >&2
work="$(mktemp -d)"
HOME="$work" XDG_DATA_HOME="$work/data" "$CARGO_TARGET_DIR/release/bonder-station" --headless --controller "$modbus" \
  --db "$work/station.sqlite" --for-seconds "$secs" --log error | tail -n 2
rm -rf "$work"
