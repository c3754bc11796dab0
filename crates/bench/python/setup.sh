#!/bin/sh
# Creates (or reuses) a virtual environment with datasketch for the
# `cluster-batch` comparison: setup.sh VENV_DIRECTORY.
# Needs python3 with the venv module; everything else comes from PyPI.
set -eu
venv="${1:?usage: setup.sh VENV_DIRECTORY}"
requirements="$(dirname "$0")/requirements.txt"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -c 'import datasketch, sys; print("datasketch", datasketch.__version__, "on Python", sys.version.split()[0])'
