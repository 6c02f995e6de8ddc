#!/usr/bin/env bash
# UI soak run (issue 5's figures): the station with its Slint window under Xvfb against
# `bondersim --wires-per-s 20` for N seconds (default 600), logged in through the real
# login page (xdotool types the first-run administrator, then the curves page is shown).
# Prints: start to first frame, RSS every minute, peak RSS, station CPU.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_apt xvfb xdotool imagemagick
cd "$REPO"
secs="${1:-600}"
cargo build --release -p bonder-station -p bondersim
work="$(mktemp -d)"
display=":$((90 + RANDOM % 9))"
cleanup() {
  kill "${station:-}" "${sim:-}" "${xvfb:-}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 1
"$CARGO_TARGET_DIR/release/bondersim" --modbus 127.0.0.1:0 --stream-tcp 127.0.0.1:0 \
  --no-camera --wires-per-s 20 --autostart >"$work/sim.out" 2>/dev/null &
sim=$!
for _ in $(seq 50); do grep -q '^modbus:' "$work/sim.out" && break; sleep 0.1; done
modbus="$(sed -n 's/^modbus: //p' "$work/sim.out")"
DISPLAY="$display" HOME="$work" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
  "$CARGO_TARGET_DIR/release/bonder-station" --controller "$modbus" --db "$work/station.sqlite" \
  --gateway mqtt://127.0.0.1:9 --log info >"$work/station.log" 2>&1 &
station=$!
for _ in $(seq 100); do grep -q 'first frame' "$work/station.log" && break; sleep 0.1; done
grep -o 'start_to_first_frame_ms=[0-9.]*.*' "$work/station.log" | head -1 | sed 's/\x1b\[[0-9;]*m//g' || true
sleep 1
# First run: create the administrator (badge, name, PIN, PIN again), then log in.
export DISPLAY="$display"
win="$(xdotool search --sync --name 'Wire bonder station|焊线机工位' | head -1)"
xdotool windowfocus --sync "$win"
sleep 0.5
xdotool mousemove 487 258 click 1
sleep 0.3
xdotool type --delay 30 "9001"
xdotool key Tab
xdotool type --delay 30 "Soak Admin"
xdotool key Tab
xdotool type --delay 30 "2468"
xdotool key Tab
xdotool type --delay 30 "2468"
sleep 0.3
# "Create administrator" (it logs the new administrator in).
xdotool mousemove 487 582 click 1
sleep 1.5
import -window root "$work/after-login.png" 2>/dev/null || true
# The curves page (second navigation button) redraws its plots on every bond.
xdotool mousemove 242 763 click 1
pid=$station
clk=$(getconf CLK_TCK)
cpu0=$(awk '{print $14+$15}' "/proc/$pid/stat")
t0=$(date +%s)
while (( $(date +%s) - t0 < secs )); do
  sleep 60
  kill -0 "$pid" 2>/dev/null || { echo "station exited"; tail -5 "$work/station.log"; exit 1; }
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  echo "t=$(( $(date +%s) - t0 ))s rss=$((rss / 1024)) MB"
done
cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
elapsed=$(( $(date +%s) - t0 ))
echo "peak RSS $((hwm / 1024)) MB; station CPU $(( (cpu1 - cpu0) * 100 / clk / elapsed )) % of one core over ${elapsed}s"
if [[ -n "${SOAK_SHOT:-}" ]]; then DISPLAY="$display" import -window root "$SOAK_SHOT" 2>/dev/null || true; fi
