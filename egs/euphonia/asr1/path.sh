# The project's virtual environment and package (PYTHON, PYTHONPATH); shared by every recipe.
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/path.sh"
