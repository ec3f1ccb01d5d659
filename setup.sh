#!/usr/bin/env bash
# Installs what ganlua needs on Debian 12, builds it and installs it under /usr/local.
#
#   ./setup.sh          packages, build, install
#   ./setup.sh test     the same, then every test: the Release build, and
#                       every test again under AddressSanitizer + UBSan
#
# Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential cmake pkg-config
  lua5.4 liblua5.4-dev
  libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev libcjson-dev libedit-dev
  libcmocka-dev
  openmpi-bin libopenmpi-dev
  dataset-fashion-mnist
  python-matplotlib-data  # sample_data/grace_hopper.jpg: the photograph SinGAN trains on by default
)

# the test suite also opens a run report in a headless browser, builds the
# Lua reference with LDoc (which runs on Lua 5.1 or 5.2, not 5.4) and reads
# our safetensors files with an independent Python checker
test_packages=(chromium lua-ldoc lua5.1 python3)
# commands the tests run (from essential packages, checked all the same)
test_commands=(bash gzip mkfifo mount umount grep sleep kill)

# Fails loudly, naming them, when packages or commands the tests need are
# missing after the installation (a test would otherwise skip or fail
# with a less clear reason).
check_installed() {
  local missing=() p
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then missing+=("$p"); fi
  done
  for p in "${test_commands[@]}"; do
    command -v "$p" >/dev/null 2>&1 || missing+=("command:$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: the tests need what is not installed: ${missing[*]}" >&2
    exit 1
  fi
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
jobs=$(nproc)

echo "== installing packages"
$sudo apt-get update -qq
if [ "${1:-}" = "test" ]; then packages+=("${test_packages[@]}"); fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
$sudo cmake --install build >/dev/null
echo "== installed: $(command -v ganlua)"

if [ "${1:-}" = "test" ]; then
  check_installed "${packages[@]}"
  # everything the tests need was installed above: a test that would skip
  # for want of a package fails instead
  export GANLUA_TEST_NO_SKIP=1
  echo "== tests"
  (cd build && ctest --output-on-failure -j"$jobs")
  echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGANLUA_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
fi
