#!/bin/sh
# Like the public node image's entrypoint: `docker run IMAGE --version` or `docker run IMAGE
# script.js` runs node with those arguments; a command on PATH runs as given.
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
