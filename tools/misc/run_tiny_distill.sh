#!/usr/bin/env bash
# Tiny end-to-end cross-modal distillation on CPU (DensePose From WiFi, scaled down).
#
#   bash tools/misc/run_tiny_distill.sh
#
# 1. tiny DensePose-COCO set; a short run of the tiny image DensePose R-CNN -> teacher ckpt
# 2. tiny paired MM-Fi set (12 real CSI frames + tiny images); teacher pseudo labels over it
# 3. distil the MTN + R18-FPN student from the frozen teacher (teacher sees the image,
#    student the CSI); TeacherFrozenCheckHook checks the teacher during the run
# 4. teacher tensors in the distilled checkpoint compared bit for bit with the teacher ckpt
# 5. first and last transfer loss printed; tools/test.py on the student
#
# Environment overrides: PYTHON (default: the project's .venv, set up first),
# WORK_DIR, TEACHER_ITERS, DISTILL_ITERS.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${PYTHON:-}" ]; then
    bash tools/misc/setup_env.sh
fi
PY=${PYTHON:-$PWD/.venv/bin/python}
WORK=${WORK_DIR:-work_dirs/tiny_distill}
TEACHER_ITERS=${TEACHER_ITERS:-20}
DISTILL_ITERS=${DISTILL_ITERS:-60}
TEACHER_CFG=configs/densepose_rcnn/densepose-rcnn_tiny_cpu_densepose-coco-tiny.py
DISTILL_CFG=configs/distill/kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py
PAIRED=work_dirs/tiny_paired_mmfi

echo "== 1. teacher: ${TEACHER_ITERS} iterations of ${TEACHER_CFG}"
$PY tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco
$PY tools/train.py "$TEACHER_CFG" --work-dir "$WORK/teacher" --cfg-options \
    train_cfg.max_iters="$TEACHER_ITERS" train_cfg.val_interval=1000000 \
    default_hooks.checkpoint.interval="$TEACHER_ITERS" default_hooks.logger.interval=5
TEACHER_CKPT="$WORK/teacher/iter_${TEACHER_ITERS}.pth"

echo "== 2. tiny paired MM-Fi set and teacher pseudo labels"
$PY tools/misc/make_tiny_paired_mmfi.py "$PAIRED"
$PY tools/misc/generate_pseudo_labels.py "$TEACHER_CFG" "$TEACHER_CKPT" --img-dir "$PAIRED" \
    --ann-file "$PAIRED/annotations/mmfi_tiny_train.json" --out "$WORK/pseudo_labels.json" \
    --score-thr 0.05

echo "== 3. distillation: ${DISTILL_ITERS} iterations of ${DISTILL_CFG}"
$PY tools/train.py "$DISTILL_CFG" --work-dir "$WORK/student" --cfg-options \
    model.teacher_ckpt="$TEACHER_CKPT" train_cfg.max_iters="$DISTILL_ITERS" \
    train_cfg.val_interval="$DISTILL_ITERS" default_hooks.checkpoint.interval="$DISTILL_ITERS"
STUDENT_CKPT="$WORK/student/iter_${DISTILL_ITERS}.pth"

echo "== 4./5. teacher bit-identity and transfer loss"
$PY - "$TEACHER_CKPT" "$STUDENT_CKPT" "$WORK/student" <<'EOF'
import glob
import json
import os.path as osp
import sys

import torch

from mmdensekd.utils import allow_mmengine_checkpoint_globals

allow_mmengine_checkpoint_globals()
teacher_ckpt, student_ckpt, work = sys.argv[1:4]
before = torch.load(teacher_ckpt, map_location='cpu')['state_dict']
after = torch.load(student_ckpt, map_location='cpu')['state_dict']
after = {k[len('teacher.'):]: v for k, v in after.items() if k.startswith('teacher.')}
if set(before) != set(after):
    sys.exit(f'teacher keys differ: {sorted(set(before) ^ set(after))[:10]}')
changed = [k for k in before if not torch.equal(before[k], after[k])]
if changed:
    sys.exit(f'TEACHER CHANGED in {len(changed)} tensors, e.g. {changed[:5]}')
print(f'teacher: {len(before)} tensors bit-identical before and after distillation')

logs = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
rows = [json.loads(line) for line in open(logs[-1])]
values = [(r['iter'], r['distill.loss_transfer']) for r in rows if 'distill.loss_transfer' in r]
(i0, first), (i1, last) = values[0], values[-1]
print(f'transfer loss (distill.loss_transfer): first {first:.5f} (iter {i0}) -> '
      f'last {last:.5f} (iter {i1}); {"falling" if last < first else "NOT falling"}')
EOF

echo "== 6. tools/test.py on the student"
$PY tools/test.py "$DISTILL_CFG" "$STUDENT_CKPT" --work-dir "$WORK/test" --cfg-options \
    model.teacher_ckpt="$TEACHER_CKPT"
echo "tiny distillation done: $WORK"
