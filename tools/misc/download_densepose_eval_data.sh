#!/usr/bin/env bash
# Download the official geodesic files of the COCO DensePose evaluation
# (needed for GPS / GPSm; IOU works without them) into DIR.
#   usage: bash tools/misc/download_densepose_eval_data.sh [DIR]
#   default DIR: data/densepose_coco/eval_data (where the DensePose-COCO configs look)
# Then pass DIR as `eval_data_dir` of DensePoseMetric, `--eval-data` of
# tools/analysis/eval_densepose_results.py, or export MMDENSEKD_EVAL_DATA=DIR.
# Pdist_matrix.pkl is large (over a gigabyte); the download resumes if cut.
set -euo pipefail
DIR="${1:-data/densepose_coco/eval_data}"
URL="https://dl.fbaipublicfiles.com/densepose/data"
mkdir -p "$DIR"
for f in SMPL_subdiv.mat SMPL_SUBDIV_TRANSFORM.mat Pdist_matrix.pkl; do
  if [ -s "$DIR/$f" ]; then
    echo "$DIR/$f exists, skipping"
    continue
  fi
  echo "downloading $URL/$f"
  if command -v wget >/dev/null 2>&1; then
    wget -c -O "$DIR/$f.part" "$URL/$f"
  else
    curl -fL -C - -o "$DIR/$f.part" "$URL/$f"
  fi
  mv "$DIR/$f.part" "$DIR/$f"
done
echo "DensePose evaluation data ready in $DIR"
