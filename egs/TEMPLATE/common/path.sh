# The project's virtual environment and package, wherever a recipe is run from (sourced by
# every recipe's path.sh).
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$MAIN_ROOT/.venv/bin/python" ]; then PYTHON=$MAIN_ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHON
export PYTHONPATH=$MAIN_ROOT${PYTHONPATH:+:$PYTHONPATH}
# torch uses every core for training; decoding jobs set OMP_NUM_THREADS=1 each
export PYTHONIOENCODING=UTF-8
