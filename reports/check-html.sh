#!/usr/bin/env bash
# Renders a bundle's report.html in a real headless browser (Debian's Chromium) and fails on
# console errors, failed loads, or tables and plots lost in parsing. Writes screenshots at
# desktop and phone widths and a PDF print to OUT_DIR for a person to look at.
#
#   reports/check-html.sh reports/kaganskikh-2019/report.html [OUT_DIR]
#
# Installs Debian's chromium package when it is missing (needs root and the Debian mirror).
set -euo pipefail
html=${1:?usage: reports/check-html.sh BUNDLE/report.html [OUT_DIR]}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$out/profile")
chromium "${flags[@]}" --enable-logging=stderr --v=0 --window-size=1280,3000 --screenshot="$out/desktop.png" "file://$abs" 2>"$out/console.log" >/dev/null
chromium "${flags[@]}" --window-size=390,3000 --screenshot="$out/phone.png" "file://$abs" 2>/dev/null >/dev/null
chromium "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$out/report.pdf" "file://$abs" 2>/dev/null >/dev/null
chromium "${flags[@]}" --dump-dom "file://$abs" 2>/dev/null >"$out/dom.html"

status=0
if grep -E "Uncaught|CONSOLE\(|Failed to load|ERR_" "$out/console.log" | grep -v -E "dbus|Fontconfig|gcm|GPU|sandbox" >"$out/errors.txt"; then
    echo "console errors:"; cat "$out/errors.txt"; status=1
fi
for tag in "<table" "<svg" "<figure" "<h2"; do
    want=$(grep -o "$tag" "$html" | wc -l); got=$(grep -o "$tag" "$out/dom.html" | wc -l)
    if [ "$want" != "$got" ]; then echo "$tag: $want in the file, $got after parsing"; status=1; fi
done
grep -q -E "<script|<link|@import|url\(" "$html" && { echo "report.html loads external resources or scripts"; status=1; }
for f in desktop.png phone.png report.pdf; do [ -s "$out/$f" ] || { echo "$f was not produced"; status=1; }; done
[ $status -eq 0 ] && echo "report.html renders without errors: $out/desktop.png, $out/phone.png, $out/report.pdf"
exit $status
