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
)

# the test suite also opens a run report in a headless browser and builds
# the Lua reference with LDoc (which runs on Lua 5.1 or 5.2, not 5.4)
test_packages=(chromium lua-ldoc lua5.1)

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
