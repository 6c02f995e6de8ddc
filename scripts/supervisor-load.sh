#!/usr/bin/env bash
# Supervisor load scenario: 50 synthetic stations publish to a real mosquitto for
# SECONDS (default 120); prints the fleet update latency, memory over time and the time
# to build a 7-day line report over 50 stations.
#   scripts/supervisor-load.sh [SECONDS] [STATIONS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_apt mosquitto
cd "$REPO"
seconds="${1:-120}"
stations="${2:-50}"
cargo build --release -p bonder-fleet --bin supervisor-load
dir="$(mktemp -d)"
trap 'kill "$mq" 2>/dev/null || true; rm -rf "$dir"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nlog_dest none\n' "$port" > "$dir/mosquitto.conf"
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$dir/mosquitto.conf" &
mq=$!
sleep 0.5
"$CARGO_TARGET_DIR/release/supervisor-load" --broker "mqtt://127.0.0.1:$port" \
  --stations "$stations" --seconds "$seconds" --dir "$dir"
