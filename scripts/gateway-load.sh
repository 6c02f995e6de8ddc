#!/usr/bin/env bash
# Gateway figures (issue 4), loopback only, stops by itself:
#  1. broker down: the station records bondersim --wires-per-s max for N s (default 20)
#     into a fresh store; its RSS is printed every second (flat: the backlog is on disk);
#  2. broker (mosquitto) up: a second station run on the same store drains the backlog;
#     the status lines show published= climbing, the summary the drain time and rate.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_apt mosquitto
cd "$REPO"
secs="${1:-20}"
cargo build --release -p bonder-station -p bondersim
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
chmod 777 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { kill "${sim:-}" "${mq:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin/bondersim" --modbus 127.0.0.1:0 --stream-tcp 127.0.0.1:0 --wires-per-s max --autostart >"$work/sim.out" 2>/dev/null &
sim=$!
for _ in $(seq 50); do grep -q '^modbus:' "$work/sim.out" && break; sleep 0.1; done
modbus="$(sed -n 's/^modbus: //p' "$work/sim.out")"
run() { HOME="$work" XDG_DATA_HOME="$work/data" "$bin/bonder-station" --headless --log error --db "$work/station.sqlite" \
        --controller "$modbus" --gateway "mqtt://127.0.0.1:$port" --for-seconds "$1"; }
echo "== 1. broker down, bonding at max rate for ${secs}s (RSS should stay flat)"
run "$secs" | sed 's/t= */t=/' | awk '{for(i=1;i<=NF;i++) if($i ~ /^(t=|summary|seq=|gateway=|published=|live=|backlog=|rss=)/) printf "%s ", $i; print ""}' | grep . | sed -n '1~5p;$p'
kill "$sim"; wait "$sim" 2>/dev/null || true
printf "listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\n" "$port" >"$work/mq.conf"
/usr/sbin/mosquitto -c "$work/mq.conf" >/dev/null 2>&1 &
mq=$!
sleep 0.5
# The controller is gone now: only the backlog flows.
"$bin/bondersim" --modbus 127.0.0.1:0 --stream-tcp 127.0.0.1:0 >"$work/sim2.out" 2>/dev/null &
sim=$!
for _ in $(seq 50); do grep -q '^modbus:' "$work/sim2.out" && break; sleep 0.1; done
modbus="$(sed -n 's/^modbus: //p' "$work/sim2.out")"
echo "== 2. broker up, machine idle: draining the backlog (bounded rate)"
run "$secs" | sed 's/t= */t=/' | awk '{for(i=1;i<=NF;i++) if($i ~ /^(t=|summary|gateway=|published=|live=|backlog=|rss=)/) printf "%s ", $i; print ""}' | grep . | sed -n '1~5p;$p'
kill "$sim"; wait "$sim" 2>/dev/null || true
"$bin/bondersim" --modbus 127.0.0.1:0 --stream-tcp 127.0.0.1:0 --wires-per-s max --autostart >"$work/sim3.out" 2>/dev/null &
sim=$!
for _ in $(seq 50); do grep -q '^modbus:' "$work/sim3.out" && break; sleep 0.1; done
modbus="$(sed -n 's/^modbus: //p' "$work/sim3.out")"
echo "== 3. broker up, bonding at max rate: live lane (published should follow seq) beside the rest of the backlog"
run 10 | sed 's/t= */t=/' | awk '{for(i=1;i<=NF;i++) if($i ~ /^(t=|summary|seq=|gateway=|published=|live=|backlog=|rss=)/) printf "%s ", $i; print ""}'
