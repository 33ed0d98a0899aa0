#!/usr/bin/env bash
# Every benchmark and check that needs a GPU, in one command (each step under its own time limit; 520 s at most in all).
#
#   bash bench/gpu_check.sh                 # on the GPU machine; OUT=DIR puts the results there (default out/gpu-check)
#
# It uses that machine's python3 (which holds torch) with this checkout on PYTHONPATH. Without network access and
# without fastcore there, run `bash tools/gpu_wheels.sh` first where pip reaches PyPI (fastcore's wheel into .whl/) and
# copy .whl/ along with the checkout: it installs fastcore from there. It runs, most important first:
#   throughput  bench/throughput.py: ResNet-32 at batch 256, ours against the conventional pipeline, ama / orig
#   seeds       bench/seeds.py: three seeds one after another, stacked in one process, three processes side by side
#   fullrun     bench/full_run.py: one whole 400-epoch CIFAR-10-LT run (§4.3 recipe, AMA), evaluation included
#               (stopped after 100 s if slower, the whole run projected from the epochs done)
#   flagged     tools/run_flagged.py --flags "slow cuda": the notebooks' cuda- and slow-flagged cells
#   compile     bench/throughput.py --compile; graphs: --compile reduce-overhead (CUDA graphs)
# STEPS="seeds flagged" runs only those. The JSON files and the log (gpu-check.log) land in $OUT (default
# out/gpu-check/); copy the JSON files into bench/ and record them in bench/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-check}; mkdir -p "$OUT"
PY=${PY:-python3}
STEPS=${STEPS-throughput seeds fullrun flagged compile graphs}
log=$OUT/gpu-check.log
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if ! $PY -c 'import fastcore' 2>/dev/null; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "fastcore is missing here and .whl/ holds no wheel: run bash tools/gpu_wheels.sh where pip reaches PyPI, and copy .whl/ here"; exit 2; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
status=0
step() {   # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  case " $STEPS " in *" $name "*) ;; *) return;; esac
  echo "== $(date -u +%FT%TZ) [$name, limit ${limit}s] $*" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$log"; local rc=${PIPESTATUS[0]}
  echo "== [$name] exit $rc" | tee -a "$log"; [ "$rc" = 0 ] || status=1
}
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1; $PY -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())'; } 2>&1 | tee -a "$log"
step throughput  80 $PY bench/throughput.py --out "$OUT/gpu-resnet32.json" --note "bench/gpu_check.sh"
step seeds      100 $PY bench/seeds.py --out "$OUT/seeds-gpu-resnet32.json"
step fullrun    130 $PY bench/full_run.py --time-limit 100 --out "$OUT/full-run-gpu-ama.json"
step flagged    110 $PY tools/run_flagged.py --flags "slow cuda"
step compile     50 $PY bench/throughput.py --compile --out "$OUT/gpu-resnet32-compile.json" --note "bench/gpu_check.sh, compile=True"
step graphs      50 $PY bench/throughput.py --compile reduce-overhead --out "$OUT/gpu-resnet32-graphs.json" --note "bench/gpu_check.sh, compile='reduce-overhead'"
echo "== done, exit $status; files in $OUT: $(ls "$OUT" | tr '\n' ' ')" | tee -a "$log"
exit $status
