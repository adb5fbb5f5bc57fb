#!/usr/bin/env bash
# Tiny end-to-end cross-modal distillation on CPU (DensePose From WiFi, scaled down).
#
#   bash tools/misc/run_tiny_distill.sh
#
# 1. tiny DensePose-COCO set; short runs of the tiny image DensePose R-CNN and of the
#    tiny Keypoint R-CNN -> the two teacher checkpoints
# 2. tiny paired MM-Fi set (12 real CSI frames + tiny images); offline pseudo labels of
#    both teachers over it, merged per person by box matching
# 3. distil the MTN + R18-FPN student (DensePose + keypoint branches) from the frozen
#    teacher (teacher sees the image, student the CSI), trained on both teachers'
#    online pseudo labels; TeacherFrozenCheckHook checks the teachers during the run
# 4. teacher tensors in the distilled checkpoint compared bit for bit with the teacher ckpts
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
KPT_TEACHER_CFG=configs/keypoint_rcnn/keypoint-rcnn_tiny_cpu_coco-tiny.py
DISTILL_CFG=configs/distill/kd_densepose-rcnn_tiny-cpu_img-to-wifi_mtn-r18_fpn_1xb2-60i_mmfi-tiny.py
PAIRED=work_dirs/tiny_paired_mmfi

echo "== 1. teacher: ${TEACHER_ITERS} iterations of ${TEACHER_CFG}"
$PY tools/misc/make_tiny_densepose_coco.py work_dirs/tiny_densepose_coco
$PY tools/train.py "$TEACHER_CFG" --work-dir "$WORK/teacher" --cfg-options \
    train_cfg.max_iters="$TEACHER_ITERS" train_cfg.val_interval=1000000 \
    default_hooks.checkpoint.interval="$TEACHER_ITERS" default_hooks.logger.interval=5
TEACHER_CKPT="$WORK/teacher/iter_${TEACHER_ITERS}.pth"
echo "== 1b. keypoint teacher: ${TEACHER_ITERS} iterations of ${KPT_TEACHER_CFG}"
$PY tools/train.py "$KPT_TEACHER_CFG" --work-dir "$WORK/kpt_teacher" --cfg-options \
    train_cfg.max_iters="$TEACHER_ITERS" train_cfg.val_interval=1000000 \
    default_hooks.checkpoint.interval="$TEACHER_ITERS" default_hooks.logger.interval=5
KPT_TEACHER_CKPT="$WORK/kpt_teacher/iter_${TEACHER_ITERS}.pth"

echo "== 2. tiny paired MM-Fi set and pseudo labels of both teachers"
$PY tools/misc/make_tiny_paired_mmfi.py "$PAIRED"
# CSI statistics of the training frames, into $PAIRED/meta.json (the config's csi_stats_file)
$PY tools/analysis/compute_csi_stats.py "$DISTILL_CFG" --write-meta
$PY tools/misc/generate_pseudo_labels.py "$TEACHER_CFG" "$TEACHER_CKPT" \
    --teacher "$KPT_TEACHER_CFG" "$KPT_TEACHER_CKPT" --img-dir "$PAIRED" \
    --ann-file "$PAIRED/annotations/mmfi_tiny_train.json" --out "$WORK/pseudo_labels.json" \
    --score-thr 0.05

echo "== 3. distillation: ${DISTILL_ITERS} iterations of ${DISTILL_CFG}"
$PY tools/train.py "$DISTILL_CFG" --work-dir "$WORK/student" --cfg-options \
    model.teacher_ckpt="$TEACHER_CKPT" model.extra_teachers.0.ckpt="$KPT_TEACHER_CKPT" \
    train_cfg.max_iters="$DISTILL_ITERS" \
    train_cfg.val_interval="$DISTILL_ITERS" default_hooks.checkpoint.interval="$DISTILL_ITERS"
STUDENT_CKPT="$WORK/student/iter_${DISTILL_ITERS}.pth"

echo "== 4./5. teacher bit-identity and transfer loss"
$PY - "$TEACHER_CKPT" "$KPT_TEACHER_CKPT" "$STUDENT_CKPT" "$WORK/student" <<'EOF'
import glob
import json
import os.path as osp
import sys

import torch

from mmdensekd.utils import allow_mmengine_checkpoint_globals

allow_mmengine_checkpoint_globals()
teacher_ckpt, kpt_teacher_ckpt, student_ckpt, work = sys.argv[1:5]
distilled = torch.load(student_ckpt, map_location='cpu')['state_dict']
for prefix, ckpt in (('teacher.', teacher_ckpt), ('pseudo_labeler.teachers.0.', kpt_teacher_ckpt)):
    before = torch.load(ckpt, map_location='cpu')['state_dict']
    after = {k[len(prefix):]: v for k, v in distilled.items() if k.startswith(prefix)}
    if set(before) != set(after):
        sys.exit(f'{prefix} keys differ: {sorted(set(before) ^ set(after))[:10]}')
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    if changed:
        sys.exit(f'TEACHER {prefix} CHANGED in {len(changed)} tensors, e.g. {changed[:5]}')
    print(f'{prefix[:-1]}: {len(before)} tensors bit-identical before and after distillation')

logs = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
rows = [json.loads(line) for line in open(logs[-1])]
values = [(r['iter'], r['distill.loss_transfer']) for r in rows if 'distill.loss_transfer' in r]
(i0, first), (i1, last) = values[0], values[-1]
print(f'transfer loss (distill.loss_transfer): first {first:.5f} (iter {i0}) -> '
      f'last {last:.5f} (iter {i1}); {"falling" if last < first else "NOT falling"}')
kpt = [(r['iter'], r['student.loss_keypoint']) for r in rows if 'student.loss_keypoint' in r]
if not kpt:
    sys.exit('no student.loss_keypoint logged: the keypoint pseudo labels did not reach the student')
print(f'keypoint loss on the merged pseudo labels (student.loss_keypoint): first '
      f'{kpt[0][1]:.5f} (iter {kpt[0][0]}) -> last {kpt[-1][1]:.5f} (iter {kpt[-1][0]}); '
      f'non-zero on {sum(v > 0 for _, v in kpt)} of {len(kpt)} logged iterations')
EOF

echo "== 6. tools/test.py on the student"
$PY tools/test.py "$DISTILL_CFG" "$STUDENT_CKPT" --work-dir "$WORK/test" --cfg-options \
    model.teacher_ckpt="$TEACHER_CKPT" model.extra_teachers.0.ckpt="$KPT_TEACHER_CKPT"
echo "tiny distillation done: $WORK"
