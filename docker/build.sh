#!/bin/sh
# The build stage of the image: the locked dependencies as pinned requirements, and the wheel.
# Usage: docker/build.sh <source folder> <dist folder>   (uv on PATH, or UV=/path/to/uv)
set -eu
src=$1
dist=$2
uv=${UV:-uv}  # may be a command with arguments, e.g. "python -m uv"
mkdir -p "$dist"
cd "$src"
$uv export --frozen --no-dev --no-emit-project --no-hashes --output-file "$dist/requirements.txt"
$uv build --wheel --out-dir "$dist"
