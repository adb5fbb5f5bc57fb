#!/usr/bin/env bash
# Create (or reuse) the local virtual environment `.venv` with the full
# OpenMMLab stack on a machine that has only Python 3.11 and pip.
#
# Idempotent: when every package is already importable it returns in seconds.
# Notes on the pins (measured, see README "Installation"):
#   * torch 2.13.0 is pinned so pip takes the local CPU wheel instead of a
#     multi-GB CUDA build.
#   * mmcv 2.1.0 ships only as a source archive: it is built with ops
#     (about 10 minutes on 2 cores, cached by pip afterwards).
#   * mmpose is installed without dependencies (they pull torchvision and
#     chumpy); its real runtime dependencies are listed in requirements/.
#   * xtcocotools is built from source against numpy 2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MMDENSEKD_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup_env] creating virtual environment at $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$ROOT/requirements/constraints.txt")

stack_ready() {
    "$PY" - <<'PYEOF' >/dev/null 2>&1
import importlib.metadata as md
need = {'torch': '2.13.0', 'mmcv': '2.1.0', 'mmdet': '3.3.0', 'mmpose': '1.3.2',
        'mmengine': '0.10.7', 'xtcocotools': '1.14.3'}
for name, ver in need.items():
    assert md.version(name).split('+')[0] == ver, name
import mmcv.ops, mmdet.models, xtcocotools.cocoeval, h5py, scipy, pytest, ruff, csiread, isal  # noqa
import mmdensekd  # noqa
PYEOF
}

if stack_ready; then
    echo "[setup_env] environment ready: $VENV"
    exit 0
fi

echo "[setup_env] installing base packages"
"${PIP[@]}" 'pip>=23' 'setuptools>=77.0.3,<81' wheel ninja cython
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -r "$ROOT/requirements/runtime.txt"

if ! "$PY" -c "import mmcv.ops" >/dev/null 2>&1; then
    echo "[setup_env] building mmcv 2.1.0 with ops (about 10 minutes the first time)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${PIP[@]}" --no-build-isolation mmcv==2.1.0
fi
if ! "$PY" -c "import xtcocotools.cocoeval" >/dev/null 2>&1; then
    echo "[setup_env] building xtcocotools against numpy 2"
    "${PIP[@]}" --no-binary xtcocotools --no-build-isolation xtcocotools==1.14.3
fi
"${PIP[@]}" mmdet==3.3.0
"${PIP[@]}" --no-deps mmpose==1.3.2
"${PIP[@]}" -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"

if stack_ready; then
    echo "[setup_env] environment ready: $VENV"
else
    echo "[setup_env] the environment is incomplete; run again to see the failing import" >&2
    "$PY" -c "import mmcv.ops, mmdet.models, mmpose.codecs, xtcocotools.cocoeval, mmdensekd"
    exit 1
fi
