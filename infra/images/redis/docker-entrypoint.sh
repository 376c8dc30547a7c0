#!/bin/sh
# Entrypoint of bulkhead-local/redis:7, the public redis image's behaviour:
#   - a first argument starting with `-` (`--port 6380`) or ending in `.conf` gets
#     `redis-server` put in front; any other command runs as given;
#   - started as root it hands /data to `redis` and re-runs itself as redis (setpriv, not gosu);
#   - umask 0077 when it is the default 0022.
# One difference the image makes up for: the public image compiles Redis with protected mode off
# ("unnecessary in Docker"); Debian's redis-server has it on, which refuses clients from other
# hosts when no password is set. So `--protected-mode no` is passed first, unless a config file
# given as the first argument sets protected-mode itself; a later `--protected-mode yes` wins.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ]; then
  shift
  if [ -n "${1:-}" ] && [ "${1%.conf}" != "$1" ]; then
    conf=$1
    shift
    if grep -Eq '^[[:space:]]*protected-mode[[:space:]]' "$conf"; then
      set -- redis-server "$conf" "$@"
    else
      set -- redis-server "$conf" --protected-mode no "$@"
    fi
  else
    set -- redis-server --protected-mode no "$@"
  fi
fi

if [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
