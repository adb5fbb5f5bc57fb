#!/usr/bin/env bash
# README main job: set up the environment, then show a WiFi-only student
# learning from an image teacher in the simulated camera + WiFi world, against
# a control whose CSI is shuffled across frames (tools/misc/quickstart.py).
#   bash tools/misc/run_quickstart.sh [quickstart.py args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash tools/misc/setup_env.sh
exec "$ROOT/.venv/bin/python" tools/misc/quickstart.py "$@"
