#!/bin/sh
# Compares our PDF form (pango + cairo, bench/pdf_bench: one long-running
# process) with headless Chromium printing the HTML print view of the same
# application (templates/appform_print.html + static/print.css) to PDF.
#
#   bench/pdf_vs_chromium.sh [BUILD_DIR] [N_PDF] [N_CHROMIUM] [N_WARM]
# Two Chromium peers, measured in the same run right after pdf_bench:
#   warm  one Chromium kept running (Playwright, bench/pdf_warm.mjs), the
#         print view loaded once, page.pdf() N_WARM times on it: the fair
#         peer, a print service with a resident browser;
#   cold  Chromium started once per form (--print-to-pdf), as a service
#         without a resident browser would.
# BUILD_DIR defaults to the repository's build/ (made and built if missing).
# The warm peer needs playwright-core: `npm ci` in tests/e2e.
# pdf_bench runs on one core (taskset -c $ESP_CPU, default 0); Chromium may use
# all of them. Targets (issue): ≥ 20× Chromium's forms/s and ≤ 10 ms per form.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
N_PDF=${2:-200}
N_CHROMIUM=${3:-10}
N_WARM=${4:-30}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ESP_CPU=${ESP_CPU:-0}

[ -d "$BUILD" ] || meson setup "$BUILD" "$SRC" --buildtype=debugoptimized >/dev/null
# Only the targets used here: the rest of the tree may be mid-edit.
ninja -C "$BUILD" bench/pdf_bench bench/appform_html >/dev/null || { echo "build failed" >&2; exit 1; }
[ -d "$SRC/tests/e2e/node_modules/playwright-core" ] ||
	{ echo "playwright-core missing: run npm ci in tests/e2e" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

ms_now() { date +%s%N | cut -c1-13; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "== pango + cairo (pdf_bench, $N_PDF forms, taskset -c $ESP_CPU)"
taskset -c "$ESP_CPU" "$BUILD/bench/pdf_bench" -n "$N_PDF" -o "$WORK/cairo.pdf" |
	tee "$WORK/pdf_bench.out"
CAIRO_MS=$(sed -n 's/.* median_ms=\([0-9.]*\).*/\1/p' "$WORK/pdf_bench.out")
CAIRO_FPS=$(sed -n 's/.*forms_per_s=\([0-9.]*\).*/\1/p' "$WORK/pdf_bench.out")
CAIRO_CPU=$(sed -n 's/.*cpu_median_ms=\([0-9.]*\).*/\1/p' "$WORK/pdf_bench.out")

# The HTML print view as espd would serve it, made loadable from file://.
mkdir -p "$WORK/site/static"
cp "$SRC/static/print.css" "$SRC/static/print.js" "$WORK/site/static/"
"$BUILD/bench/appform_html" "$SRC/templates/appform_print.html" |
	sed 's#"/static/#"static/#g' > "$WORK/site/appform.html"

echo "== warm headless Chromium, page.pdf() on the loaded print view ($N_WARM forms)"
node "$SRC/bench/pdf_warm.mjs" "file://$WORK/site/appform.html" "$N_WARM" "$WORK/warm.pdf" |
	tee "$WORK/warm.out"
WARM_MS=$(sed -n 's/^median_ms=\([0-9.]*\).*/\1/p' "$WORK/warm.out")
[ -n "$WARM_MS" ] && [ -s "$WORK/warm.pdf" ] || { echo "warm chromium made no PDF" >&2; exit 1; }
WARM_FPS=$(awk -v m="$WARM_MS" 'BEGIN {printf "%.2f", 1000 / m}')

echo "== cold headless Chromium --print-to-pdf, one browser per form ($N_CHROMIUM forms)"
: > "$WORK/chromium.ms"
i=0
while [ "$i" -lt "$N_CHROMIUM" ]; do
	profile=$(mktemp -d)
	t0=$(ms_now)
	"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run \
		--user-data-dir="$profile" --no-pdf-header-footer \
		--print-to-pdf="$WORK/chromium.pdf" "file://$WORK/site/appform.html" \
		>/dev/null 2>&1
	t1=$(ms_now)
	rm -rf "$profile"
	[ -s "$WORK/chromium.pdf" ] || { echo "chromium made no PDF" >&2; exit 1; }
	echo $((t1 - t0)) >> "$WORK/chromium.ms"
	i=$((i + 1))
done
CHROME_MS=$(median < "$WORK/chromium.ms")
CHROME_FPS=$(awk -v m="$CHROME_MS" 'BEGIN {printf "%.2f", 1000 / m}')
echo "runs_ms=$(tr '\n' ' ' < "$WORK/chromium.ms")"
echo "median_ms=$CHROME_MS forms_per_s=$CHROME_FPS (sequential)"

echo "== outputs"
printf 'cairo:    %s pages, %s bytes\n' "$(pdfinfo "$WORK/cairo.pdf" | awk '/^Pages:/ {print $2}')" \
	"$(wc -c < "$WORK/cairo.pdf")"
printf 'warm:     %s pages, %s bytes\n' "$(pdfinfo "$WORK/warm.pdf" | awk '/^Pages:/ {print $2}')" \
	"$(wc -c < "$WORK/warm.pdf")"
printf 'chromium: %s pages, %s bytes\n' "$(pdfinfo "$WORK/chromium.pdf" | awk '/^Pages:/ {print $2}')" \
	"$(wc -c < "$WORK/chromium.pdf")"
if [ -n "${KEEP:-}" ]; then
	cp "$WORK/cairo.pdf" "$WORK/warm.pdf" "$WORK/chromium.pdf" "$WORK/site/appform.html" "$KEEP/"
fi

echo "== summary"
echo "load: $(uptime)"
awk -v cm="$CAIRO_MS" -v cf="$CAIRO_FPS" -v cc="$CAIRO_CPU" -v hm="$CHROME_MS" \
	-v hf="$CHROME_FPS" -v wm="$WARM_MS" -v wf="$WARM_FPS" 'BEGIN {
	printf "pango+cairo: median %.2f ms/form (CPU %.2f ms), %.1f forms/s, one core\n", cm, cc, cf
	printf "chromium, warm: median %.1f ms/form, %.2f forms/s\n", wm, wf
	printf "chromium, cold: median %.0f ms/form, %.2f forms/s\n", hm, hf
	printf "ratio vs warm: %.1fx per form (median); vs cold: %.0fx\n", wm / cm, hm / cm
	printf "targets: >= 20x the warm peer %s, <= 10 ms/form %s\n", (wm / cm >= 20 ? "met" : "NOT met"),
	       (cm <= 10 ? "met" : "NOT met")
	printf "SUMMARY esp_ms=%.2f warm_ms=%.1f cold_ms=%.0f ratio_warm=%.1f ratio_cold=%.0f\n", cm, wm, hm, wm / cm, hm / cm
}'
