#!/bin/sh
# Like the official image's entrypoint: optional extra packages, then the command.
set -e
if [ -n "${EXTRA_PIP_PACKAGES:-}" ]; then
  echo "+pip install $EXTRA_PIP_PACKAGES"
  pip install --no-cache-dir $EXTRA_PIP_PACKAGES
fi
exec "$@"
