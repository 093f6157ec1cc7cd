#!/usr/bin/env bash
# Prepares what a lent GPU machine needs beside the working tree for `bash benchmarks/gpu.sh STEP...`: .whl/ (the
# wheels of jsonargparse and its two needs, which that machine's Python lacks) and .gpu_data/ (the data those steps
# read), both ignored by git through .git/info/exclude. The tree and the carried folders travel together, 64 MiB at
# most: the cats-vs-dogs photos (convnets, 95 MB) cannot.
#   bash benchmarks/gpu_prepare.sh language gans
# then, on the device: pip install --target /tmp/site .whl/*.whl; PYTHONPATH=/tmp/site DATA=.gpu_data bash
# benchmarks/gpu.sh language gans (carrying .whl and .gpu_data)
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=${SOURCE:-../shared/data}
PY=${PYTHON:-.venv/bin/python}  # the project's environment: its versions are the ones to carry
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")" .whl .gpu_data
for ignored in /.whl/ /.gpu_data/; do grep -qxF "$ignored" "$exclude" 2>/dev/null || echo "$ignored" >>"$exclude"; done

versions=$($PY -m pip list --format freeze 2>/dev/null | grep -iE '^(jsonargparse|docstring.parser|typeshed.client)==' || true)
[ "$(wc -w <<<"$versions")" = 3 ] || { echo "gpu_prepare: $PY lacks jsonargparse and its needs (PYTHON=...)" >&2; exit 1; }
# shellcheck disable=SC2086  # one argument per pinned package; the lent machine's Python is 3.12
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d .whl $versions

for step in "$@"; do
    case $step in
        language) mkdir -p .gpu_data/text && cp "$SOURCE/text/warpeace_input.txt" .gpu_data/text/ ;;
        smoke | speed | quiet_cpu | dcgan | gans) cp -r "$SOURCE/MNIST" .gpu_data/ ;;
        folder_gans) cp -r "$SOURCE/pokemon" .gpu_data/ ;;
        imdb_seeds) mkdir -p .gpu_data/imdb && cp "$SOURCE"/imdb/{train,test}.jsonl.gz .gpu_data/imdb/ ;;
        *) echo "gpu_prepare: no data prepared for '$step'" >&2 ;;
    esac
done
du -sh .whl .gpu_data
