#!/usr/bin/env bash
# Compare arbot's Engle-Granger statistics with statsmodels' (R2.3).
#
# Creates a Python virtual environment in .venv-ci/ (once; later runs reuse it, and pip's
# download cache makes a fresh one quick), installs statsmodels, numpy and pandas from PyPI,
# then runs tests/coint_statsmodels.rs with ARBOT_STATSMODELS_PYTHON pointing at it.
#
#   scripts/check-coint.sh           # set up and run the comparison
#   scripts/check-coint.sh --setup   # only set up; prints the interpreter's path last
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ARBOT_COINT_VENV:-.venv-ci}"
py="$venv/bin/python"
if ! "$py" -c "import statsmodels, numpy, pandas" >/dev/null 2>&1; then
    echo "== python venv for the statsmodels comparison: $venv" >&2
    python3 -m venv "$venv"
    "$py" -m pip install --quiet --upgrade pip >&2
    "$py" -m pip install --quiet statsmodels numpy pandas >&2
fi
"$py" -c "import statsmodels; print('statsmodels', statsmodels.__version__)" >&2
if [ "${1:-}" = "--setup" ]; then
    echo "$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"
    exit 0
fi
ARBOT_STATSMODELS_PYTHON="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" \
    cargo test --test coint_statsmodels -- --nocapture
