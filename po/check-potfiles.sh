#!/bin/sh
# Fails when a file under ui/ or its folders with translatable strings (_( in C,
# translatable="yes" in a .ui file) is missing from po/POTFILES.in, or when POTFILES.in is
# not sorted or names a file that does not exist.
set -u
root=${1:?usage: check-potfiles.sh SOURCE_ROOT}
potfiles="$root/po/POTFILES.in"
status=0

listed=$(grep -v '^#' "$potfiles" | sed '/^$/d')

for file in $(cd "$root" && grep -l -e '_(' -e 'translatable="yes"' ui/*.c ui/*/*.c ui/*.ui ui/*/*.ui 2>/dev/null); do
    if ! printf '%s\n' "$listed" | grep -qx "$file"; then
        echo "$file has translatable strings but is missing from po/POTFILES.in"
        status=1
    fi
done

for file in $listed; do
    if [ ! -f "$root/$file" ]; then
        echo "po/POTFILES.in names $file, which does not exist"
        status=1
    fi
done

if ! printf '%s\n' "$listed" | LC_ALL=C sort -c 2>/dev/null; then
    echo "po/POTFILES.in is not sorted (LC_ALL=C sort)"
    status=1
fi
exit $status
