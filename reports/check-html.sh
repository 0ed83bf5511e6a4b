#!/usr/bin/env bash
# Checks that a report page works on a phone and on a desktop, and prints it to PDF.
#
#   reports/check-html.sh [REPORT.html] [OUT-DIR]
#   (defaults: reports/kaganskikh-2019/report.html, target/check-html)
#
# In headless Chromium at 390 px (a phone) and 1280 px wide, it fails (exit 1) when
#   - the page is wider than the screen (something overflows outside a scrolling table or figure),
#   - a figure panel is drawn narrower than 300 px (390) or 400 px (1280), or its text
#     smaller than 8 px,
#   - a number wraps inside itself (1.05e- / 4), or a text runs past the right edge;
# and, as before, on console errors or failed loads, tables, figures or headings lost in
# parsing, and anything loaded from outside the file (scripts, links, fonts, images). It leaves
# full-page screenshots report-390.png and report-1280.png and the print report.pdf in OUT-DIR
# to look at. Installs Debian's chromium package when it is missing (needs root and the
# Debian mirror).
set -euo pipefail

report=${1:-reports/kaganskikh-2019/report.html}
out=${2:-target/check-html}
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
    echo "check-html: needs Chromium on the PATH (Debian: apt-get install chromium)" >&2
    exit 2
fi
if [ ! -f "$report" ]; then
    echo "check-html: $report: no such file; give a report.html" >&2
    exit 2
fi
mkdir -p "$out"
report_abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
headless=("$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
    --disable-quic --disable-background-networking --disable-component-update --disable-sync
    --force-device-scale-factor=1 --user-data-dir="$out/profile")

# The report has no script of its own; a copy gets one that measures the laid-out page and
# writes what it found into the page around it, which --dump-dom then prints. The copy is shown
# in a frame exactly WIDTH px wide (a headless window is at least 500 px wide).
cat > "$out/probe.js" <<'EOF'
<script>
addEventListener("load", () => {
  const W = innerWidth, min = W < 600 ? 300 : 400, problems = [];
  const page = document.documentElement.scrollWidth;
  if (page > W + 1) problems.push(`the page is ${page} px wide on a ${W} px screen`);
  document.querySelectorAll("figure").forEach((f, i) => {
    f.querySelectorAll("svg").forEach(svg => {
      const w = svg.getBoundingClientRect().width;
      if (w > 0 && w < min) problems.push(`figure ${i + 1}: a panel drawn ${Math.round(w)} px wide (at least ${min})`);
    });
  });
  // Figure text as drawn: its font size times the figure's scale on screen.
  let smallest = Infinity;
  document.querySelectorAll("figure svg text").forEach(t => {
    const svg = t.closest("svg"), vb = svg.viewBox.baseVal;
    const drawn = svg.getBoundingClientRect().width;
    if (!(drawn > 0)) return;
    const scale = drawn / (vb && vb.width ? vb.width : svg.width.baseVal.value);
    smallest = Math.min(smallest, parseFloat(t.getAttribute("font-size") || "12") * scale);
  });
  if (smallest < 8) problems.push(`figure text drawn ${smallest.toFixed(1)} px high (at least 8)`);
  document.querySelectorAll(".nb").forEach(s => {
    if (s.getClientRects().length > 1) problems.push(`a number wraps: ${s.textContent}`);
  });
  document.querySelectorAll("p, li, h1, h2, h3, figcaption").forEach(e => {
    if (e.closest(".table, .plot, pre")) return;
    if (e.getBoundingClientRect().right > W + 1) problems.push(`text past the right edge: ${e.textContent.slice(0, 60)}`);
  });
  const r = parent.document.createElement("pre");
  r.id = "check-html";
  r.textContent = "CHECK" + `-HTML width=${W} height=${document.documentElement.scrollHeight} figures=${document.querySelectorAll("figure").length} smallest-figure-text=${smallest.toFixed(1)}px problems=${problems.length}\n` + problems.join("\n") + "\nEND-" + "CHECK-HTML";
  parent.document.body.appendChild(r);
});
</script>
EOF

failed=0
for width in 390 1280; do
    # frame WIDTH HEIGHT WITH-PROBE: the report (with the probe script or not) in a frame.
    frame() {
        printf '<!DOCTYPE html><html><body style="margin:0"><iframe style="border:0;display:block;width:%spx;height:%spx" srcdoc="' "$1" "$2"
        if [ "$3" = probe ]; then
            awk -v js="$out/probe.js" '/<\/body>/ { while ((getline l < js) > 0) print l; close(js) } { print }' "$report_abs"
        else
            cat "$report_abs"
        fi | sed -e 's/&/\&amp;/g' -e 's/"/\&quot;/g'
        printf '"></iframe></body></html>\n'
    }
    window=$((width < 500 ? 500 : width))
    frame "$width" 1000 probe > "$out/frame-$width.html"
    "${headless[@]}" --window-size="$window,1000" --virtual-time-budget=5000 \
        --dump-dom "file://$(cd "$out" && pwd)/frame-$width.html" 2>/dev/null > "$out/dom-$width.html"
    result=$(sed -n '/CHECK-HTML width/,/END-CHECK-HTML/p' "$out/dom-$width.html" | grep -v END-CHECK-HTML || true)
    if [ -z "$result" ]; then
        echo "check-html: $width px: Chromium did not lay the page out (no result in $out/dom-$width.html)" >&2
        exit 2
    fi
    echo "$width px: ${result#*CHECK-HTML }"
    height=$(echo "$result" | head -1 | sed 's/.*height=\([0-9]*\).*/\1/')
    problems=$(echo "$result" | head -1 | sed 's/.*problems=\([0-9]*\).*/\1/')
    [ "$problems" = 0 ] || failed=1
    frame "$width" "$height" plain > "$out/frame-$width.html"
    "${headless[@]}" --window-size="$width,$height" --screenshot="$out/report-$width.png" \
        "file://$(cd "$out" && pwd)/frame-$width.html" 2>/dev/null >/dev/null
    rm -f "$out/frame-$width.html" "$out/dom-$width.html"
done
"${headless[@]}" --no-pdf-header-footer --print-to-pdf="$out/report.pdf" "file://$report_abs" \
    2>/dev/null >/dev/null
pages=$(grep -ac '/Type /Page$\|/Type /Page[^s]' "$out/report.pdf" || true)
echo "PDF: $out/report.pdf, $pages pages; screenshots: $out/report-390.png, $out/report-1280.png"

"${headless[@]}" --enable-logging=stderr --v=0 --window-size=1280,1000 --dump-dom \
    "file://$report_abs" 2>"$out/console.log" >"$out/dom.html"
if grep -E "Uncaught|CONSOLE\(|Failed to load|ERR_" "$out/console.log" |
    grep -v -E "dbus|Fontconfig|gcm|GPU|sandbox" >"$out/errors.txt"; then
    echo "console errors:"
    cat "$out/errors.txt"
    failed=1
fi
for tag in "<table" "<svg" "<figure" "<h2"; do
    want=$(grep -o "$tag" "$report" | wc -l)
    got=$(grep -o "$tag" "$out/dom.html" | wc -l)
    if [ "$want" != "$got" ]; then
        echo "$tag: $want in the file, $got after parsing"
        failed=1
    fi
done
if grep -q -E "<script|<link|<img|@import|url\(" "$report"; then
    echo "report.html loads something from outside the file or runs a script"
    failed=1
fi
for f in report-390.png report-1280.png report.pdf; do
    [ -s "$out/$f" ] || { echo "$f was not produced"; failed=1; }
done
if [ "$failed" != 0 ]; then
    echo "check-html: FAILED (problems listed above)" >&2
    exit 1
fi
echo "check-html: passed"
