#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 and that role `postgres` can
# log in there without a password, which is what the test URL assumes.
# Installs and starts the Debian cluster if needed; expects to run as root.
set -euo pipefail

host=127.0.0.1
# Overridable only to test this script against a scratch cluster.
port="${CI_PG_PORT:-5432}"
cluster="${CI_PG_CLUSTER:-main}"

ready() { pg_isready -q -h "$host" -p "$port"; }
tcp_login_ok() { psql -h "$host" -p "$port" -U postgres -d postgres -XAtqc 'select 1' >/dev/null 2>&1; }
# Over the Unix socket the postgres OS user gets peer auth, whatever the TCP rules say.
as_postgres_psql() { runuser -u postgres -- psql -p "$port" -d postgres -XAtq "$@"; }

if command -v pg_isready >/dev/null && ready; then
  echo "PostgreSQL already accepting connections on $host:$port"
else
  if [ ! -d /etc/postgresql ] || ! command -v pg_ctlcluster >/dev/null; then
    echo "installing PostgreSQL from apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  # Newest installed major version; the Debian package creates cluster "main".
  version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
  echo "starting cluster $version/$cluster"
  # Exit status 2 means "already running" (e.g. started by the package's postinst).
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || [ $? -eq 2 ]
  for _ in $(seq 60); do
    ready && break
    sleep 1
  done
  ready || { echo "PostgreSQL did not become ready on $host:$port" >&2; exit 1; }
fi

if ! tcp_login_ok; then
  # Fresh Debian installs ask for a password over TCP (scram-sha-256).
  echo "enabling trust auth for loopback TCP connections"
  hba="$(as_postgres_psql -c 'show hba_file')"
  # pg_hba.conf is first-match, so the trust lines go on top; rewriting in place keeps
  # the file's owner and mode.
  new="$(printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$hba")"
  printf '%s\n' "$new" >"$hba"
  as_postgres_psql -c 'select pg_reload_conf()' >/dev/null
  as_postgres_psql -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'root') THEN
        CREATE ROLE root SUPERUSER LOGIN;
      END IF;
    END \$\$"
  # The reload is asynchronous; give it a moment to apply.
  for _ in $(seq 10); do
    tcp_login_ok && break
    sleep 1
  done
  tcp_login_ok || { echo "cannot log in as postgres over TCP on $host:$port" >&2; exit 1; }
fi
echo "PostgreSQL ready: postgres@$host:$port"
