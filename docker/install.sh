#!/bin/sh
# The install stage of the image: a virtualenv with exactly the locked versions and the wheel.
# Usage: docker/install.sh <dist folder> <venv folder> <python>   (uv on PATH, or UV=...)
set -eu
dist=$1
venv=$2
python=$3
uv=${UV:-uv}  # may be a command with arguments, e.g. "python -m uv"
$uv venv --python "$python" "$venv"
$uv pip install --python "$venv/bin/python" --no-deps --requirement "$dist/requirements.txt"
$uv pip install --python "$venv/bin/python" --no-deps "$dist"/journeyflow-*.whl
$uv pip check --python "$venv/bin/python"
