#!/usr/bin/env bash
# End-to-end check of the Python client: starts target/debug/lienthong with demo
# data on a throwaway SQLite database, issues a submitter and a reviewer token,
# and runs clients/python/example_submit.py against it. Builds no Rust itself.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/target/debug/lienthong"
py_dir="$root/clients/python"
organ=00004-peoples-committee
reviewer_organ=01-public-service-centre

[ -x "$bin" ] || { echo "$bin not found; run cargo build --workspace first" >&2; exit 1; }

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$tmp/server.log" ]; then
    echo "--- server log (last 50 lines) ---" >&2
    tail -n 50 "$tmp/server.log" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Ask the kernel for a free loopback port. It could in theory be taken again
# before the server binds it; the server then exits and the wait below says so.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="sqlite://$tmp/ci.db"

echo "starting server on 127.0.0.1:$port with $url"
"$bin" serve --demo --listen "127.0.0.1:$port" --database-url "$url" >"$tmp/server.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 60))
# A connect through bash's /dev/tcp succeeds once the server listens.
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "server exited before listening" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "server not listening on port $port after 60 s" >&2
    exit 1
  fi
  sleep 0.2
done
echo "server listening after $((SECONDS + 60 - deadline)) s"

# Tokens go through the environment rather than argv, to keep them out of ps.
LIENTHONG_TOKEN="$("$bin" token issue --database-url "$url" --organ "$organ" --role SUBMITTER)"
LIENTHONG_REVIEWER_TOKEN="$("$bin" token issue --database-url "$url" --organ "$reviewer_organ" --role REVIEWER)"
if [ -z "$LIENTHONG_TOKEN" ] || [ -z "$LIENTHONG_REVIEWER_TOKEN" ]; then
  echo "token issue printed no token" >&2
  exit 1
fi
export LIENTHONG_TOKEN LIENTHONG_REVIEWER_TOKEN
export LIENTHONG_SERVER="127.0.0.1:$port"

"$py_dir/generate.sh"

# Hanoi's month; without tzdata TZ falls back to UTC, which differs only for
# seven hours at a month boundary.
period="$(TZ=Asia/Ho_Chi_Minh date +%Y-%m)"
run_example() {
  "$py_dir/.venv/bin/python" "$py_dir/example_submit.py" --organ "$organ" --period "$period"
}

echo "running example_submit.py for $organ, period $period"
run_example | tee "$tmp/first.out"

submitted="$(sed -n 's/^ *submitted: *\([0-9][0-9]*\)$/\1/p' "$tmp/first.out")"
if [ -z "$submitted" ] || [ "$submitted" -lt 1 ]; then
  echo "expected a submitted count >= 1, got '${submitted}'" >&2
  exit 1
fi

# Same organ and period give the same request_id, so a rerun must return the
# original report rather than fail or create a second one.
echo "rerunning to check idempotency"
run_example >"$tmp/second.out"
first_report="$(grep '^report:' "$tmp/first.out")"
second_report="$(grep '^report:' "$tmp/second.out")"
if [ "$first_report" != "$second_report" ]; then
  echo "rerun returned a different report: '$second_report' vs '$first_report'" >&2
  exit 1
fi
echo "python example OK ($first_report, submitted $submitted)"
