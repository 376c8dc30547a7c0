#!/usr/bin/env bash
# Entrypoint of bulkhead-local/postgres:15. It implements only this subset of the public
# postgres image's docker-entrypoint.sh (the part the Helm chart uses):
#   - `docker-entrypoint.sh postgres [ARGS...]` (the CMD), or ARGS starting with `-` (then
#     `postgres` is put in front); ARGS such as `-c max_connections=200` pass through to postgres;
#     any other command runs as given.
#   - POSTGRES_USER (default postgres), POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (one of them
#     is required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default POSTGRES_USER;
#     created when not `postgres`), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default: the
#     server's password_encryption, scram-sha-256), PGDATA (default /var/lib/postgresql/data).
#   - First start on an empty PGDATA: initdb with that superuser and password (local socket
#     connections trust, like the public image), `host all all all <method>` appended to
#     pg_hba.conf, listen_addresses='*' (from the image's postgresql.conf.sample). Later starts
#     only run postgres.
#   - Runs as uid/gid 999 (`postgres`). Started as root it fixes the ownership of PGDATA and
#     /var/run/postgresql and re-runs itself as postgres (setpriv instead of gosu).
#   - Read-only root filesystem: needs PGDATA, /var/run/postgresql and /tmp writable.
# Not implemented: /docker-entrypoint-initdb.d scripts, POSTGRES_INITDB_WALDIR, arbitrary uids
# without a passwd entry (nss_wrapper), the *_FILE form of variables other than the password.
set -Eeuo pipefail

die() { printf 'docker-entrypoint.sh: error: %s\n' "$*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR from itself or from the file named by VAR_FILE (not both).
file_env() {
  local var=$1 file_var="${1}_FILE" default=${2:-} value
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    die "both $var and $file_var are set (but are exclusive)"
  fi
  value=$default
  if [[ -n ${!var:-} ]]; then
    value=${!var}
  elif [[ -n ${!file_var:-} ]]; then
    value=$(<"${!file_var}")
  fi
  export "$var"="$value"
  unset "$file_var"
}

# True if ARGS ask postgres for help or its version (then no set-up happens).
wants_help() {
  local arg
  for arg; do
    case $arg in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
}

# Data and socket directories; as root also their ownership (the public image does the same).
create_dirs() {
  mkdir -p "$PGDATA"
  # PostgreSQL wants 0700; a mount we do not own may refuse (postgres then says why).
  chmod 0700 "$PGDATA" 2>/dev/null || :
  mkdir -p /var/run/postgresql 2>/dev/null || :
  chmod 3775 /var/run/postgresql 2>/dev/null || :
  if [[ $(id -u) == 0 ]]; then
    find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  fi
}

verify_minimum_env() {
  if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    die "the database is uninitialized and no superuser password is given: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust (not recommended)"
  fi
  if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
    printf 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every host may connect as any user without a password.\n' >&2
  fi
}

init_database_dir() {
  # --pwfile rejects an empty file, hence the newline. The password never touches the disk.
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the public image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    $POSTGRES_INITDB_ARGS
}

# host connections from anywhere: POSTGRES_HOST_AUTH_METHOD, else the server's password_encryption.
setup_hba() {
  local method
  method=$(postgres -C password_encryption "$@")
  : "${POSTGRES_HOST_AUTH_METHOD:=$method}"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
}

# POSTGRES_DB, through a server that listens on the socket only (no client can reach it yet).
create_database() {
  [[ $POSTGRES_DB == postgres ]] && return 0
  local opts
  printf -v opts '%q ' "$@" -c "listen_addresses=" -p "${PGPORT:-5432}"
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "$opts" -w start
  local exists
  exists=$(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc \
    --dbname postgres --tuples-only --set db="$POSTGRES_DB" \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
  if [[ -z ${exists// /} ]]; then
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc \
      --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

main() {
  if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
  fi
  if [[ ${1:-} == postgres ]] && ! wants_help "$@"; then
    setup_env
    create_dirs
    if [[ $(id -u) == 0 ]]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ ! -s $PGDATA/PG_VERSION ]]; then
      verify_minimum_env
      init_database_dir
      shift # postgres
      setup_hba "$@"
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      create_database "$@"
      unset PGPASSWORD
      set -- postgres "$@"
      printf '\nPostgreSQL init process complete; ready for start up.\n\n'
    else
      printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    fi
  fi
  exec "$@"
}

main "$@"
