#!/usr/bin/env bash
# Runs every test of the workspace (unit, property, end-to-end against the simulator).
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_apt mosquitto
cd "$REPO"
cargo test --workspace "$@"
