#!/usr/bin/env bash
# Creates clients/python/.venv with the pinned requirements and regenerates the
# Python stubs from ../../proto into lienthong_client/generated/. Safe to rerun.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

out=lienthong_client/generated
# Start clean so stubs of deleted or renamed protos do not linger.
rm -rf "$out"
mkdir -p "$out"
# grpc_tools.protoc adds its bundled well-known types (google/protobuf/*.proto)
# to the include path itself.
.venv/bin/python -m grpc_tools.protoc \
  -I ../../proto \
  --python_out="$out" \
  --pyi_out="$out" \
  --grpc_python_out="$out" \
  ../../proto/lienthong/v1/*.proto

echo "generated $(find "$out" -name '*.py' | wc -l) modules in $here/$out"
