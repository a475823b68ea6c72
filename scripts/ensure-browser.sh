#!/bin/sh
# Install Debian's chromium (and CJK fonts, so Chinese names render in screenshots) for the
# tests of HTML pages and reports, when missing (root, apt). Tests drive it headless through
# tests/support/browser.py; in CI (CI=true) a missing browser fails those tests, elsewhere
# they are skipped with a visible reason.
need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
[ -d /usr/share/fonts/opentype/noto ] || need="$need fonts-noto-cjk"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing$need (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null) \
    || echo "warning: could not install$need; browser tests will be skipped (failed in CI)"
else
  echo "warning: missing$need and cannot apt-get install; browser tests will be skipped (failed in CI)"
fi
exit 0
