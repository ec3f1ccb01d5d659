#!/usr/bin/env bash
# Time per step of recipes/dcgan.lua on 1 process and on 2 MPI ranks, each
# with one thread: 1 x batch 64, 1 x batch 32 (one rank's share of the
# work), 2 ranks x batch 32 (the same global batch as 1 x 64) with SyncBN
# (the default at this batch) and without it, in turn, ROUNDS times. Prints each run's s/step (the loop's own figure, which
# includes the data and the all-reduces) and, for 2 ranks, rank 0's time in
# all-reduces (gradients, SyncBN, the logged values) and its share.
#
#   bench/dist.sh [ROUNDS=3] [STEPS=40] [GANLUA=build/ganlua]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-40}
ganlua=${3:-build/ganlua}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common="--threads=1 --iters=$steps --no-eval --sample_every=0 --save_every=0 --print_every=1000"
mpirun="mpirun --allow-run-as-root --oversubscribe -np 2"

run() { # name, command...
  local name=$1
  shift
  local text
  text=$("$@" 2>&1) || { echo "$name failed:"; echo "$text" | tail -5; exit 1; }
  local sps comm
  sps=$(echo "$text" | sed -n 's/^done: .*(\([0-9.]*\) s\/step).*/\1/p')
  comm=$(echo "$text" | sed -n "s/.*gan.dist: .*all-reduces took \([0-9.]*\) s of the \([0-9.]*\) s .*(\([0-9.]*\)%).*/\1 s of \2 s (\3%)/p")
  printf "%-22s %s s/step  load %s%s\n" "$name" "$sps" "$(cut -d' ' -f1 /proc/loadavg)" "${comm:+  all-reduce: $comm}"
}

for r in $(seq "$rounds"); do
  echo "round $r"
  run "1 process, batch 64" "$ganlua" recipes/dcgan.lua $common --batch=64 --out="$out/a"
  run "1 process, batch 32" "$ganlua" recipes/dcgan.lua $common --batch=32 --out="$out/b"
  run "2 ranks, batch 2x32" $mpirun "$ganlua" recipes/dcgan.lua $common --batch=32 --out="$out/c"
  run "2 ranks, no SyncBN" $mpirun "$ganlua" recipes/dcgan.lua $common --batch=32 --sync_bn=off --out="$out/d"
done
