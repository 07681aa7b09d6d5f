// The warm Chromium peer of bench/pdf_vs_chromium.sh: one headless Chromium
// kept running (Playwright), the print view loaded once, then page.pdf() N
// times on that already loaded page, as a print service with a resident
// browser would. Prints each form's milliseconds, then the median.
//
//   node bench/pdf_warm.mjs FILE_URL N OUT.pdf
// playwright-core comes from tests/e2e/node_modules (npm ci there);
// CHROMIUM (default /usr/bin/chromium) is the browser.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/e2e/package.json'));
const { chromium } = require('playwright-core');

const [url, nArg, out] = process.argv.slice(2);
const n = Number(nArg || 20);
if (!url || !out || !(n > 0)) {
	console.error('usage: node bench/pdf_warm.mjs FILE_URL N OUT.pdf');
	process.exit(2);
}
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu'],
});
try {
	const page = await browser.newPage();
	await page.goto(url, { waitUntil: 'load' });
	// One PDF not counted: Chromium's first print sets up its printing code.
	await page.pdf({ preferCSSPageSize: true, printBackground: true });
	const ms = [];
	let pdf;
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
		ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	writeFileSync(out, pdf);
	ms.sort((a, b) => a - b);
	const median = n % 2 ? ms[(n - 1) / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
	console.log(`runs_ms=${ms.map((x) => x.toFixed(1)).join(' ')}`);
	console.log(`median_ms=${median.toFixed(1)} forms_per_s=${(1000 / median).toFixed(2)} (sequential, one page kept loaded)`);
} finally {
	await browser.close();
}
