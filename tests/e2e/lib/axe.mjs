// Accessibility check of the page in view with axe-core (npm), WCAG 2.1 A and
// AA rules only (GB/T 37668 asks the same of government sites). The engine is
// evaluated through the DevTools protocol, not added as a <script>, so the
// pages' Content-Security-Policy applies to them unchanged.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Every page checked so far in this process (name → URL), for the tests'
// diagnostics: which pages of which role were looked at.
export const checked = [];

// Runs axe on `page` and fails with every violation (rule, impact, help and
// the offending elements) when there is any. `name` says which page it is.
export async function checkA11y(page, name) {
  await page.waitForLoadState('load');
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }));
  }, WCAG_TAGS);
  checked.push({ name, url: page.url() });
  const lines = result.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
  assert.deepEqual(lines, [], `axe-core WCAG 2.1 A/AA violations on ${name} (${page.url()})`);
}
