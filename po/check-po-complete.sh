#!/bin/sh
# A translation is complete: msgfmt reports no untranslated and no fuzzy messages.
#   check-po-complete.sh LANG.po
set -eu
stats=$(msgfmt --check --statistics -o /dev/null "$1" 2>&1)
echo "$1: $stats"
case "$stats" in
*untranslated* | *fuzzy*) exit 1 ;;
esac
