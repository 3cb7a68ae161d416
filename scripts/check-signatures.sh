#!/usr/bin/env bash
# arbot's request signing for all ten exchanges against ccxt's sign() (and PyJWT for JWTs).
#
# Creates (or reuses) the Python virtual environment .venv-ci/, installs ccxt, PyJWT and
# cryptography from PyPI, then runs tests/signatures_ccxt.rs with ARBOT_CCXT_PYTHON set.
#
#   scripts/check-signatures.sh           # set up and run the comparison
#   scripts/check-signatures.sh --setup   # only set up; prints the interpreter's path last
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ARBOT_COINT_VENV:-.venv-ci}"
py="$venv/bin/python"
if ! "$py" -c "import ccxt, jwt, cryptography" >/dev/null 2>&1; then
    echo "== python venv for the ccxt signature comparison: $venv" >&2
    [ -x "$py" ] || python3 -m venv "$venv"
    "$py" -m pip install --quiet --upgrade pip >&2
    "$py" -m pip install --quiet ccxt PyJWT cryptography >&2
fi
"$py" -c "import ccxt, jwt; print('ccxt', ccxt.__version__, 'PyJWT', jwt.__version__)" >&2
if [ "${1:-}" = "--setup" ]; then
    echo "$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"
    exit 0
fi
ARBOT_CCXT_PYTHON="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" \
    cargo test --test signatures_ccxt -- --nocapture
