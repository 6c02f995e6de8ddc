#!/usr/bin/env bash
# The fault soak: simulator at 20 wires/s, mosquitto, the station binary, and a seeded
# schedule of faults (stream blackhole, Modbus reset, broker down, station kill -9) for
# MINUTES (default 10); prints the bond accounting, detection/recovery times per fault
# kind and the station's RSS (crates/station/tests/fault_soak.rs). SOAK_SEED=N picks
# another schedule.
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_apt mosquitto
cd "$REPO"
SOAK_MINUTES="${1:-10}" exec cargo test -p bonder-station --test fault_soak -- --ignored --nocapture
