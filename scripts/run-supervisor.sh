#!/usr/bin/env bash
# Runs the supervisor app: scripts/run-supervisor.sh [--gateway mqtt://HOST:PORT] [--lang zh-CN]
# (first start: no user exists, the app asks for the administrator's name and password).
set -euo pipefail
source "$(dirname "$0")/common.sh"
need_rust
need_build_deps
need_ui_deps
need_tauri_deps
cd "$REPO"
cargo build -p bonder-supervisor
WEBKIT_DISABLE_DMABUF_RENDERER="${WEBKIT_DISABLE_DMABUF_RENDERER:-1}" \
  "$CARGO_TARGET_DIR/debug/bonder-supervisor" "$@"
