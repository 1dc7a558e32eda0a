#!/usr/bin/env bash
# Runs ON a lent GPU machine from the project root (adapted from ../shared/gpu/check.sh):
# the GPU tests, the transforms on JAX's GPU, issue 9's ratios on the GPU, and part of the gpu
# benchmark suite with its report. First, here: `bash ../shared/gpu/prepare.sh` (wheels into
# .gpu/whl); then the device tool: command `bash scripts/gpu_check.sh`, carry [".gpu"],
# timeout_s 560. Each step has its own time limit, so the whole stays near 8 minutes; what
# each step printed goes to $OUT as it runs (a step cut at its limit still returns its lines).
set -uo pipefail
export PYTHONUNBUFFERED=1
# JAX would take 75% of the GPU's memory at its first array, leaving torch and CuPy (in the
# same test and benchmark processes) the rest; take memory as needed instead.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
mp() { python3 -c "import sys; from mlpillars.cli import main; sys.argv = ['mlpillars'] + sys.argv[1:]; sys.exit(main())" "$@"; }
{ nvidia-smi; python3 -m pip list 2>/dev/null | grep -iE "^(torch|jax|jaxlib|cupy|numpy|scipy|array)"; } > "$OUT/nvidia-smi.txt" 2>&1
timeout 60 bash -c "$(declare -f mp); mp capabilities" > "$OUT/capabilities.txt" 2>&1
pytest_gpu() { python3 -m pytest -q -p no:cacheprovider -n 8 --timeout 120 -rfEs "$@"; }
timeout 180 bash -c "$(declare -f pytest_gpu); pytest_gpu tests -k 'cuda or gpu or cupy'" > "$OUT/gpu-tests.txt" 2>&1
echo "tests rc=$?" >> "$OUT/gpu-tests.txt"
timeout 90 bash -c "$(declare -f pytest_gpu); pytest_gpu tests/test_transforms.py -k jax" > "$OUT/transforms.txt" 2>&1
echo "transforms (JAX on its default device, the GPU) rc=$?" >> "$OUT/transforms.txt"
timeout 100 python3 scripts/gpu_ratios.py --rounds 7 > "$OUT/gpu-ratios.txt" 2>&1
echo "ratios rc=$?" >> "$OUT/gpu-ratios.txt"
timeout 100 bash -c "$(declare -f mp); mp bench --suite gpu --backends torch,jax,cupy \
  --kernels softmax,scaled_dot_product_attention,gradient_descent,linear --out /tmp/gpu-run" \
  > "$OUT/gpu-bench.txt" 2>&1
echo "bench rc=$?" >> "$OUT/gpu-bench.txt"
tar czf "$OUT/gpu-run.tgz" -C /tmp gpu-run 2>/dev/null
tail -n 4 "$OUT"/*.txt
