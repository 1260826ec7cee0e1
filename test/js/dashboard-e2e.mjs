// dashboard-e2e.mjs drives billd's dashboard in a real (headless) Chromium: it signs in
// with an API key, starts a bill run through the form, follows the run's page until the
// run is over and prints what the page showed as one JSON line:
//   {"runId", "status", "processed", "total", "failed", "invoices", "charges",
//    "totals": {"USD": "1234.50", ...}, "sawProgress", "screenshot"}
// sawProgress is true when the progress bar was seen strictly between 0 and its max.
//
//   BASE_URL=http://127.0.0.1:8080 API_KEY=billd_... PERIOD_START=2024-01-01 \
//   PERIOD_END=2024-01-31 SCREENSHOT=/tmp/dashboard.png node dashboard-e2e.mjs
//
// CHROMIUM names the browser (default /usr/bin/chromium); TIMEOUT_MS bounds the whole
// run (default 120000). It exits 0 when the run ended and the page showed it, 1 on any
// failure, with {"error": ...} in the JSON (and a screenshot of the page as it was).
import { chromium } from 'playwright-core';

const env = process.env;
const cfg = {
  baseURL: (env.BASE_URL || '').replace(/\/+$/, ''),
  key: env.API_KEY || '',
  periodStart: env.PERIOD_START || '',
  periodEnd: env.PERIOD_END || '',
  screenshot: env.SCREENSHOT || '',
  chromium: env.CHROMIUM || '/usr/bin/chromium',
  timeout: Number(env.TIMEOUT_MS || 120000),
};
const FINAL = ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED'];
const tid = (id) => `[data-testid="${id}"]`;

const result = { runId: null, status: null, processed: null, total: null, failed: null, invoices: null,
  charges: null, totals: {}, sawProgress: false, screenshot: cfg.screenshot || null };
const pageErrors = [];
let browser;
let page;

// The shown numbers are grouped for reading ("1,200"); these undo it.
const toInt = (s) => {
  const digits = String(s ?? '').replace(/[^\d-]/g, '');
  if (!/^-?\d+$/.test(digits)) throw new Error(`not a whole number on the page: ${JSON.stringify(s)}`);
  return Number(digits);
};
const toAmount = (s) => String(s ?? '').trim().replace(/,/g, '');

async function main() {
  for (const [name, v] of [['BASE_URL', cfg.baseURL], ['API_KEY', cfg.key], ['PERIOD_START', cfg.periodStart],
    ['PERIOD_END', cfg.periodEnd], ['SCREENSHOT', cfg.screenshot]]) {
    if (!v) throw new Error(`${name} is not set`);
  }
  const deadline = Date.now() + cfg.timeout;
  const left = () => Math.max(1000, deadline - Date.now());

  browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox'], headless: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => d.dismiss()); // never cancel anything

  // Record every value the progress bar takes, however briefly: a MutationObserver
  // installed before the page's own scripts, so no update is missed between polls.
  await page.addInitScript(() => {
    window.__progress = [];
    const record = () => {
      const bar = document.querySelector('[data-testid="progress-bar"]');
      if (!bar) return;
      const now = Number(bar.getAttribute('aria-valuenow'));
      const max = Number(bar.getAttribute('aria-valuemax'));
      const last = window.__progress[window.__progress.length - 1];
      if (!last || last.now !== now || last.max !== max) window.__progress.push({ now, max });
    };
    new MutationObserver(record).observe(document, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'aria-valuemax'],
    });
  });

  await page.goto(`${cfg.baseURL}/dashboard/`, { waitUntil: 'domcontentloaded', timeout: left() });

  // Sign in.
  await page.locator(tid('api-key')).fill(cfg.key, { timeout: left() });
  await page.locator(tid('sign-in')).click();
  const role = page.locator(tid('viewer-role'));
  const signInError = page.locator(tid('sign-in-error'));
  await Promise.race([
    role.filter({ hasText: /\S/ }).waitFor({ state: 'visible', timeout: left() }),
    signInError.filter({ hasText: /\S/ }).waitFor({ state: 'visible', timeout: left() })
      .then(async () => { throw new Error(`sign-in refused: ${await signInError.textContent()}`); }),
  ]);
  result.role = (await role.textContent()).trim();
  if (await page.evaluate(() => localStorage.length) !== 0) throw new Error('the dashboard wrote to localStorage');

  // Start the run through the form.
  await page.locator(tid('period-start')).fill(cfg.periodStart, { timeout: left() });
  await page.locator(tid('period-end')).fill(cfg.periodEnd);
  await page.locator(tid('start-run')).click();
  const startError = page.locator('[data-testid^="error-"]:visible, [data-testid="start-error"]:visible');
  await Promise.race([
    page.waitForURL(/#\/runs\/[^/]+$/, { timeout: left() }),
    startError.first().waitFor({ state: 'visible', timeout: left() })
      .then(async () => { throw new Error(`starting the run was refused: ${await startError.first().textContent()}`); }),
  ]);
  result.runId = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/runs\//, ''));

  // Follow the run until it is over and the bar shows it (a COMPLETED run's bar full).
  const handle = await page.waitForFunction((final) => {
    const status = document.querySelector('[data-testid="run-status"]')?.dataset.status;
    const bar = document.querySelector('[data-testid="progress-bar"]');
    if (!status || !bar || !final.includes(status)) return false;
    const now = bar.getAttribute('aria-valuenow');
    const max = bar.getAttribute('aria-valuemax');
    return status !== 'COMPLETED' || now === max ? status : false;
  }, FINAL, { timeout: left(), polling: 100 });
  result.status = await handle.jsonValue();
  // The render after the last event has happened: the status comes with every field.

  const text = async (id) => (await page.locator(tid(id)).textContent({ timeout: 5000 })).trim();
  result.processed = toInt(await text('processed'));
  result.total = toInt(await text('total'));
  result.failed = toInt(await text('failed'));
  result.invoices = toInt(await text('invoices'));
  result.charges = toInt(await text('charges'));
  const bar = page.locator(tid('progress-bar'));
  result.progressBar = { now: Number(await bar.getAttribute('aria-valuenow')), max: Number(await bar.getAttribute('aria-valuemax')) };
  for (const li of await page.locator('[data-testid^="total-"]:not([data-testid$="-amount"])').all()) {
    const code = (await li.getAttribute('data-testid')).replace(/^total-/, '');
    result.totals[code] = toAmount(await li.locator(tid(`total-${code}-amount`)).textContent());
  }
  result.rate = await text('rate');
  result.eta = await text('eta');

  const seen = await page.evaluate(() => window.__progress);
  result.progressSeen = seen.length;
  result.sawProgress = seen.some((p) => p.max > 0 && p.now > 0 && p.now < p.max);

  if (result.status === 'COMPLETED' && result.processed !== result.total) {
    throw new Error(`COMPLETED but ${result.processed} of ${result.total} accounts shown`);
  }
  await page.screenshot({ path: cfg.screenshot, fullPage: true, animations: 'disabled' });
  if (pageErrors.length) result.pageErrors = pageErrors;
  const crashes = pageErrors.filter((e) => e.startsWith('page error'));
  if (crashes.length) throw new Error(`the page threw: ${crashes.join('; ')}`);
}

let code = 0;
const timer = setTimeout(() => {
  console.log(JSON.stringify({ ...result, error: `timed out after ${cfg.timeout + 30000} ms` }));
  process.exit(1);
}, cfg.timeout + 30000);
try {
  await main();
  console.log(JSON.stringify(result));
} catch (e) {
  code = 1;
  if (page && cfg.screenshot) {
    await page.screenshot({ path: cfg.screenshot, fullPage: true }).catch(() => {});
  }
  let banner = null;
  if (page) banner = await page.locator(tid('error')).textContent({ timeout: 1000 }).catch(() => null);
  console.log(JSON.stringify({ ...result, error: String((e && e.message) || e), banner: banner || undefined,
    pageErrors: pageErrors.length ? pageErrors : undefined }));
} finally {
  clearTimeout(timer);
  if (browser) await browser.close().catch(() => {});
}
process.exit(code);
