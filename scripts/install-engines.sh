#!/usr/bin/env bash
# Installs the real engines that the real-engine test suite (tests/real_engines/) runs against,
# builds the tiny test model, and checks that both engines serve it. Everything is built from
# source through the ordinary package clients (Debian packages, the Go module proxy, PyPI) and
# cached under $LLMBENCH_ENGINES_DIR (default ~/.cache/llmbench-engines):
#
#   bin/ollama                 Ollama v0.24.0, `go install github.com/ollama/ollama@v0.24.0`
#                              (CPU build; its llama.cpp is vendored in the Go module)
#   src/llama_cpp_python-*/    the llama-cpp-python sdist from PyPI (it vendors llama.cpp)
#   llama.cpp-build/bin/       llama.cpp built from that vendored source with cmake:
#                              llama-server and the shared libraries libllama.so, libggml*.so
#   venv/                      Python venv: llama-cpp-python[server] (its OpenAI-compatible
#                              server, using the libraries above), gguf, numpy
#   models/tiny-llama.gguf     scripts/make-tiny-model.py --seed 1234
#
# Idempotent: each step leaves a stamp and is skipped when its output is present, so a second
# run only re-checks (seconds). `--force` rebuilds everything. Builds use 2 jobs.
# Usage: scripts/install-engines.sh [--force] [--no-check]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

OLLAMA_VERSION=v0.24.0
MALGO_VERSION=v0.11.24  # github.com/gen2brain/malgo: provides miniaudio.h for Ollama's mtmd
LLAMA_CPP_PYTHON_VERSION=0.3.36
MODEL_SEED=1234
jobs="${BUILD_JOBS:-2}"

cache="${LLMBENCH_ENGINES_DIR:-$HOME/.cache/llmbench-engines}"
force=0
check=1
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --no-check) check=0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install-engines.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
mkdir -p "$cache"/{bin,inc,src,models,stamps}
log() { echo "install-engines: $*"; }
done_stamp() { [ "$force" = 0 ] && [ -f "$cache/stamps/$1" ]; }
stamp() { date -u +%FT%TZ > "$cache/stamps/$1"; }

# --- 1. Debian packages: headers Ollama's vendored llama.cpp includes but the Go module
#        download leaves out (nlohmann/json.hpp, stb/stb_image.h), and the build tools.
need_pkgs=()
for p in nlohmann-json3-dev libstb-dev cmake g++ python3-venv ccache; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
fi

# --- 2. Ollama, built from the Go module.
go_bin="$(command -v go || echo /usr/local/go/bin/go)"
if [ ! -x "$go_bin" ]; then
  echo "install-engines: no Go toolchain (go) found; Ollama $OLLAMA_VERSION needs Go >= 1.24" >&2
  exit 1
fi
ollama="$cache/bin/ollama"
if done_stamp ollama && [ -x "$ollama" ] && "$ollama" --version >/dev/null 2>&1; then
  log "ollama: cached ($("$ollama" --version 2>&1 | sed -n "s/.*client version is //p"))"
else
  log "ollama: downloading modules"
  "$go_bin" mod download "github.com/ollama/ollama@$OLLAMA_VERSION"
  malgo_dir="$("$go_bin" mod download -json "github.com/gen2brain/malgo@$MALGO_VERSION" |
               sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ ! -f "$malgo_dir/miniaudio.h" ]; then
    echo "install-engines: miniaudio.h not found in github.com/gen2brain/malgo@$MALGO_VERSION ($malgo_dir)" >&2
    exit 1
  fi
  mkdir -p "$cache/inc/miniaudio"
  install -m 0644 "$malgo_dir/miniaudio.h" "$cache/inc/miniaudio/miniaudio.h"
  install -m 0644 "$malgo_dir/miniaudio.h" "$cache/inc/miniaudio.h"
  flags="-I$cache/inc -I/usr/include/stb"
  log "ollama: go install github.com/ollama/ollama@$OLLAMA_VERSION (CPU; this takes a long time on 2 cores)"
  # -ldflags sets the version `ollama --version` and /api/version report (0.0.0 otherwise).
  CGO_CFLAGS="$flags" CGO_CXXFLAGS="$flags" GOBIN="$cache/bin" GOFLAGS="-p=$jobs" \
    "$go_bin" install "-ldflags=-X=github.com/ollama/ollama/version.Version=${OLLAMA_VERSION#v}" \
    "github.com/ollama/ollama@$OLLAMA_VERSION"
  "$ollama" --version >/dev/null 2>&1 || { echo "install-engines: $ollama does not run" >&2; exit 1; }
  stamp ollama
fi

# --- 3. Python venv with gguf + numpy (the model script) and llama-cpp-python[server].
venv="$cache/venv"
if [ ! -x "$venv/bin/python" ]; then
  log "venv: python3 -m venv $venv"
  python3 -m venv "$venv"
fi
src="$cache/src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  log "llama.cpp: pip download llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (sdist)"
  "$venv/bin/pip" download -q --no-deps --no-binary :all: \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$cache/src"
  tar -xzf "$cache/src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$cache/src"
fi

# --- 4. llama.cpp from the sdist's vendored source: llama-server + shared libraries. CPU only,
#        portable (no -march=native), no BLAS/OpenMP/curl/OpenSSL, no web UI download.
lcpp_build="$cache/llama.cpp-build"
if done_stamp llama-server && [ -x "$lcpp_build/bin/llama-server" ] &&
   [ -f "$lcpp_build/bin/libllama.so" ]; then
  log "llama.cpp: cached ($lcpp_build/bin/llama-server)"
else
  log "llama.cpp: cmake build of llama-server (this takes a while on 2 cores)"
  cmake -S "$src/vendor/llama.cpp" -B "$lcpp_build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_APP=OFF >/dev/null
  cmake --build "$lcpp_build" --target llama-server -j"$jobs"
  stamp llama-server
fi

# llama-cpp-python without its own llama.cpp build (LLAMA_BUILD=OFF): it loads the libraries
# above through LLAMA_CPP_LIB_PATH, so llama.cpp is compiled once for both servers.
if done_stamp pip && "$venv/bin/python" -c "import gguf, numpy, fastapi, uvicorn" 2>/dev/null &&
   LLAMA_CPP_LIB_PATH="$lcpp_build/bin" "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  log "llama-cpp-python: cached ($("$venv/bin/pip" show llama-cpp-python 2>/dev/null | sed -n 's/^Version: //p'))"
else
  log "llama-cpp-python: pip install llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION gguf numpy"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" "$venv/bin/pip" install -q \
    "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" gguf numpy
  LLAMA_CPP_LIB_PATH="$lcpp_build/bin" "$venv/bin/python" -c "import llama_cpp" ||
    { echo "install-engines: llama_cpp does not import with LLAMA_CPP_LIB_PATH=$lcpp_build/bin" >&2; exit 1; }
  stamp pip
fi

# --- 5. The tiny model (rebuilt when the script changes).
model="$cache/models/tiny-llama.gguf"
model_key="$(sha256sum scripts/make-tiny-model.py | cut -c1-16)-seed$MODEL_SEED"
if [ "$force" = 0 ] && [ -f "$model" ] && [ "$(cat "$cache/stamps/model" 2>/dev/null)" = "$model_key" ]; then
  log "model: cached ($model)"
else
  "$venv/bin/python" scripts/make-tiny-model.py --out "$model.tmp" --seed "$MODEL_SEED"
  mv "$model.tmp" "$model"
  echo "$model_key" > "$cache/stamps/model"
fi

# --- 6. Smoke check: both engines load the model and generate 8 tokens (a few seconds).
if [ "$check" = 1 ]; then
  log "checking that both engines serve the model"
  scripts/real-engines.sh --smoke
fi

cat <<EOF
install-engines: done. Everything is under $cache:
  ollama            $ollama
  llama-server      $lcpp_build/bin/llama-server
  llama-cpp-python  $venv/bin/python -m llama_cpp.server (LLAMA_CPP_LIB_PATH=$lcpp_build/bin)
  model             $model
Run the real-engine suite: scripts/real-engines.sh
EOF
