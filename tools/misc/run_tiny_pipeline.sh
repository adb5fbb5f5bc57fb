#!/usr/bin/env bash
# README main job: set up the environment, build the tiny real-image
# DensePose-COCO set, train the tiny CPU DensePose R-CNN on it and evaluate
# the checkpoint (box AP + DensePose AP).
#   bash tools/misc/run_tiny_pipeline.sh [extra tools/train.py args]
# Environment: WORK_DIR (default work_dirs/densepose-rcnn_tiny_cpu),
# CONFIG (default the tiny CPU config).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

bash tools/misc/setup_env.sh
PY="$ROOT/.venv/bin/python"
CONFIG=${CONFIG:-configs/densepose_rcnn/densepose-rcnn_tiny_cpu_densepose-coco-tiny.py}
WORK_DIR=${WORK_DIR:-work_dirs/densepose-rcnn_tiny_cpu}
DATA_DIR=work_dirs/tiny_densepose_coco  # the tiny config's data_root

echo "[pipeline] building the tiny DensePose-COCO set in $DATA_DIR"
"$PY" tools/misc/make_tiny_densepose_coco.py "$DATA_DIR"

echo "[pipeline] training $CONFIG (CPU) -> $WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT="$(cat "$WORK_DIR/last_checkpoint")"

echo "[pipeline] testing $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --eval bbox densepose --out "$WORK_DIR/test/densepose_results.json"

echo "[pipeline] done"
echo "  data:        $DATA_DIR"
echo "  checkpoint:  $CKPT"
echo "  train logs:  $WORK_DIR/<timestamp>/"
echo "  test logs:   $WORK_DIR/test/<timestamp>/ (metrics in the .log and vis_data/)"
echo "  predictions: $WORK_DIR/test/densepose_results.json (COCO DensePose results format)"
