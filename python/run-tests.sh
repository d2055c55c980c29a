#!/usr/bin/env bash
# Build the voc Python wheel and run its tests (pytest), Spark and Dask
# included. Called by .ci/run; also the way to test by hand:
#
#   bash python/run-tests.sh
#
# - a virtual environment ($VOC_VENV, default python/.venv; created when
#   missing) gets maturin, pytest, pandas, pyarrow, pyspark and dask from PyPI;
# - `maturin build --release` builds the wheel into a fresh folder, with
#   CARGO_TARGET_DIR defaulting to the repository's target/ (dependencies
#   compiled there are reused);
# - the wheel is installed and pytest runs python/tests.
# Exits non-zero when anything fails, and when pytest collected no test.
# PySpark needs Java 17 or later on PATH (or JAVA_HOME).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$HERE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
PYTHON="${PYTHON:-python3}"
VENV="${VOC_VENV:-$HERE/.venv}"
T0=$SECONDS
phase() { echo "== $* ($((SECONDS - T0))s)"; }

phase "python environment: $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --progress-bar off \
  'maturin>=1.5,<2' 'pytest>=7' 'pandas>=2.0,<3' 'pyarrow>=11' 'pyspark>=3.5,<5' 'dask[dataframe]>=2024.1'
"$PY" -c 'import sys, maturin, pytest, pandas, pyarrow, pyspark, dask; print("python", sys.version.split()[0], "pandas", pandas.__version__, "pyarrow", pyarrow.__version__, "pyspark", pyspark.__version__, "dask", dask.__version__)'
if command -v java >/dev/null 2>&1; then java -version 2>&1 | head -1; else echo "warning: no java on PATH: the Spark tests will fail"; fi

phase "maturin build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
DIST="$(mktemp -d)"
trap 'rm -rf "$DIST"' EXIT
"$VENV/bin/maturin" build --release --interpreter "$PY" --out "$DIST"
WHEEL="$(ls "$DIST"/voc-*.whl)"
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"

phase "pytest python/tests"
export PYSPARK_PYTHON="$PY" PYSPARK_DRIVER_PYTHON="$PY"
set +e
"$PY" -m pytest tests -ra -p no:cacheprovider
rc=$?
set -e
phase "done"
if [ "$rc" -eq 5 ]; then
  echo "python/run-tests.sh: pytest collected no test" >&2
  exit 1
fi
exit "$rc"
