# Shared by the scripts: toolchain check, apt packages, target dir.
# shellcheck shell=bash

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Builds are slow on small machines: keep the target dir outside the clone so a fresh
# clone (CI) reuses it. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bonder-hmi/target}"
# A one-shot build gains nothing from incremental caches, which are the largest part of a
# target dir that many clones share.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# guard_disk — a shared target dir grows with every clone path and feature set; when the
# disk holding it has less than BONDER_MIN_FREE_GB (default 12) free, drop its caches
# (incremental first, then the debug tree) instead of failing half way with ENOSPC.
guard_disk() {
  local min="${BONDER_MIN_FREE_GB:-12}" free
  mkdir -p "$CARGO_TARGET_DIR"
  free="$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print int($4 / 1048576)}')"
  [ "$free" -ge "$min" ] && return 0
  echo "only ${free} GB free under $CARGO_TARGET_DIR: removing its incremental caches" >&2
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release/incremental
  free="$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print int($4 / 1048576)}')"
  [ "$free" -ge "$min" ] && return 0
  echo "still only ${free} GB free: removing the debug build tree (the next build is cold)" >&2
  rm -rf "$CARGO_TARGET_DIR"/debug
}

need_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust 1.85 or newer (rustup), then run this again." >&2
    exit 1
  fi
  local v
  v="$(rustc --version | awk '{print $2}')"
  if [ "$(printf '%s\n1.85.0\n' "$v" | sort -V | head -1)" != "1.85.0" ]; then
    echo "rustc $v is too old: this workspace needs Rust 1.85 or newer (edition 2024)." >&2
    exit 1
  fi
  guard_disk
}

# need_apt PKG... — installs the Debian/Ubuntu packages that are missing.
need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What building the workspace needs (bundled SQLite and zstd compile C).
need_build_deps() {
  need_apt gcc libc6-dev pkg-config
}

# What the station UI needs: a CJK font so Chinese renders (fontconfig finds it), and
# fontconfig/freetype for Slint's software renderer and winit window.
need_ui_deps() {
  need_apt fonts-noto-cjk fonts-dejavu-core libfontconfig1-dev libfreetype-dev
}

# What the supervisor app (Tauri 2, src-tauri/) needs: WebKitGTK and friends to build and
# run it, and for its end-to-end test Xvfb, WebKitWebDriver and ImageMagick's `import`
# (X-level screenshots).
need_tauri_deps() {
  need_apt libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev \
    libxdo-dev libssl-dev xvfb webkit2gtk-driver imagemagick
}

# tauri-driver (WebDriver bridge for the supervisor's e2e test), installed once into
# ~/.cache/bonder-hmi/tools (about 30 s to build); prints its path.
need_tauri_driver() {
  local root="$HOME/.cache/bonder-hmi/tools"
  if [ ! -x "$root/bin/tauri-driver" ]; then
    echo "installing tauri-driver into $root" >&2
    CARGO_TARGET_DIR="$root/build" cargo install tauri-driver --version 2.1.0 --locked --root "$root" >&2
  fi
  echo "$root/bin/tauri-driver"
}

# need_python_peers — the independent protocol peers the tests run against, pinned, in a
# virtual environment of their own (never the system Python): python secsgem (SECS/GEM
# host) and asyncua (OPC UA client). Exports BONDER_PYTHON, the environment's interpreter.
need_python_peers() {
  local venv="$HOME/.cache/bonder-hmi/venv" want="secsgem==0.3.0 asyncua==2.1.0"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    need_apt python3-venv
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("secsgem") == "0.3.0" and m.version("asyncua") == "2.1.0"' >/dev/null 2>&1; then
    echo "installing python peers into $venv: $want" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check $want
  fi
  export BONDER_PYTHON="$venv/bin/python"
}
