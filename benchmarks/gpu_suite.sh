#!/usr/bin/env bash
# The visionbench GPU suite for an air-gapped GPU machine, in one script (under 6 minutes on one GPU).
#
#   benchmarks/gpu_suite.sh [--dry-run] [--wheels DIR] [--out DIR] [--budget SECONDS]
#
# Expects Python 3.12 with torch, torchvision, timm, transformers and onnxruntime installed. Missing
# packages come as wheel files in --wheels DIR (no package index is used: pip --no-index). Runs from
# the repository root without installing it (PYTHONPATH), never logs to MLflow (--no-track), then:
#   1. ResNet-50 @ 224, batch 256, eager and compiled x fp32 / bf16 / bf16 + channels-last: the harness
#      throughput beside a bare model(x) loop and timm's benchmark protocol (benchmarks/gpu_suite.py);
#   2. a detector and a segmenter through `visionbench run --no-track`;
#   3. the GPU-marked tests (pytest -m gpu);
# and writes results/bench/gpu-<device>.json and .md (the pytest summary goes beside them).
# --dry-run rehearses every step on CPU with tiny sizes (tests run it) and only collects the GPU tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DRY_RUN=0
WHEELS=""
OUT="$ROOT/results/bench"
BUDGET=300
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --wheels) WHEELS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --budget) BUDGET="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu_suite.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$WHEELS" ]; then
  if [ ! -d "$WHEELS" ]; then echo "gpu_suite.sh: --wheels $WHEELS: folder not found" >&2; exit 2; fi
  shopt -s nullglob
  wheels=("$WHEELS"/*.whl)
  if [ ${#wheels[@]} -gt 0 ]; then
    "$PYTHON" -m pip install --no-index --no-deps --find-links "$WHEELS" "${wheels[@]}"
  fi
fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
unset MLFLOW_TRACKING_URI
cd "$ROOT"

missing=$("$PYTHON" - <<'EOF'
import importlib.util
need = ["torch", "torchvision", "numpy", "PIL", "pyarrow", "pandas", "sklearn", "scipy", "jsonschema", "yaml", "rich"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
  echo "gpu_suite.sh: missing Python packages: $missing (bring their wheels with --wheels DIR)" >&2
  exit 2
fi

start=$(date +%s)
suite_args=(--out "$OUT" --budget "$BUDGET")
[ "$DRY_RUN" = 1 ] && suite_args+=(--dry-run)
"$PYTHON" benchmarks/gpu_suite.py "${suite_args[@]}"

mkdir -p "$OUT"
if [ "$DRY_RUN" = 1 ]; then
  set +e
  "$PYTHON" -m pytest -m gpu tests -q -p no:cacheprovider --collect-only --continue-on-collection-errors \
    > "$OUT/gpu-cpu-dry-run-pytest.txt" 2>&1
  status=$?
  set -e
  echo "gpu_suite.sh: dry run collected the GPU tests (exit $status): $(tail -n 1 "$OUT/gpu-cpu-dry-run-pytest.txt")"
else
  device=$("$PYTHON" -c "import re, torch; print(re.sub(r'[^a-z0-9]+', '-', torch.cuda.get_device_name().lower()).strip('-'))")
  set +e
  "$PYTHON" -m pytest -m gpu tests -q -p no:cacheprovider --continue-on-collection-errors \
    > "$OUT/gpu-$device-pytest.txt" 2>&1
  status=$?
  set -e
  echo "gpu_suite.sh: pytest -m gpu exit $status: $(tail -n 1 "$OUT/gpu-$device-pytest.txt")"
fi
echo "gpu_suite.sh: done in $(( $(date +%s) - start )) s"
