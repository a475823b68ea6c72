#!/bin/sh
# Install Debian's redis-server for the Redis tests when it is missing (root, apt).
# The tests start their own server on a free loopback port and stop it; without the binary
# they are skipped with a visible reason.
command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing redis-server (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
    || echo "warning: could not install redis-server; Redis tests will be skipped"
  # Debian starts a system service on install; the tests use their own servers.
  (service redis-server stop >/dev/null 2>&1 || true)
else
  echo "warning: redis-server not found and cannot apt-get install it; Redis tests will be skipped"
fi
exit 0
