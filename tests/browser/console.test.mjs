// The Switchyard console in headless Chromium: one browser session from first-run setup to logout.
//
// Run by tests/tests/browser.rs (cargo test -p switchyard-tests --test browser), which starts a
// gateway without an admin token and a mock upstream and passes their addresses:
//
//   CONSOLE_URL     the admin listener, which serves the console
//   PROXY_URL       the proxy listener (the gateway's :8080)
//   MOCK_BASE_URL   the mock upstream's OpenAI-compatible base URL (it answers "hello from mock")
//   SCREENSHOT_DIR  where every visited page is saved as a PNG, at 1280×800
//   CHROMIUM        the browser to drive (Debian's chromium; playwright-core downloads none)
//   SETUP_CODE      the first-run setup code the gateway printed (`setup code: …`), if any
//   MOCK_API_KEY, ADMIN_PASSWORD, ADMIN_NEW_PASSWORD   optional; the Rust test checks the key
//                   reached the upstream and that none of them appears in the gateway's logs
//   FALLBACK_MODEL  a model whose first request the mock fails with 503, so the route's fallback
//                   answers it; FAILING_MODEL  a model the mock always fails with 500
//
// Every step asserts what the user sees, waiting with Playwright's auto-waiting locators or by
// polling with a deadline, never with fixed sleeps. A failed step saves failure.png and exits 1.
// Checks of behaviour that is wrong today but should not stop the walk-through are "soft": they
// are listed at the end and also make the script exit 1.

import assert from 'node:assert/strict';
import { mkdir, rm, copyFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run this through cargo test -p switchyard-tests --test browser`);
    process.exit(2);
  }
  return value;
}

const CONSOLE_URL = required('CONSOLE_URL').replace(/\/+$/, '');
const PROXY_URL = required('PROXY_URL').replace(/\/+$/, '');
const MOCK_BASE_URL = required('MOCK_BASE_URL').replace(/\/+$/, '');
const SCREENSHOT_DIR = required('SCREENSHOT_DIR');
const CHROMIUM = required('CHROMIUM');
const MOCK_API_KEY = process.env.MOCK_API_KEY || 'sk-browser-mock-7d3f91c2a8e45b60';
const USERNAME = 'admin';
const PASSWORD = process.env.ADMIN_PASSWORD || 'browser-test-pass-1';
const NEW_PASSWORD = process.env.ADMIN_NEW_PASSWORD || 'browser-test-pass-2';
/// The first-run setup code the gateway printed; empty when it printed none.
const SETUP_CODE = process.env.SETUP_CODE || '';
/// The README's picture of the console.
// The README's picture is refreshed only on request (UPDATE_README_SCREENSHOT=1), so an ordinary
// test run never changes a tracked file.
const README_SCREENSHOT = process.env.UPDATE_README_SCREENSHOT === '1'
  ? path.join(ROOT, 'assets/console.png')
  : null;

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/// How long one expectation may wait; the console answers in milliseconds.
const WAIT_MS = 10_000;
/// What the mock answers to every chat (MockUpstream::start("mock")).
const MOCK_ANSWER = 'hello from mock';
/// Models the Rust test makes the mock fail: once (so the fallback answers), and always.
const FALLBACK_MODEL = process.env.FALLBACK_MODEL || 'mock-flaky';
const FAILING_MODEL = process.env.FAILING_MODEL || 'mock-broken';
/// The prices the metered traffic is charged at, in USD per million tokens, for every mock-*
/// model on both providers: the mock's usage (3 prompt, 4 completion tokens) costs $0.011.
const TEST_PRICES = { input_per_mtok: 1000, output_per_mtok: 2000 };

// ---------------------------------------------------------------------------------------------
// Small test helpers.

const started = performance.now();
const timings = [];
const softFailures = [];
const screenshots = [];
const browserProblems = [];

const log = (message) => console.log(message);
const elapsed = (since) => `${Math.round(performance.now() - since)} ms`;

/// Runs one named step of the scenario and records how long it took.
async function step(name, body) {
  const t0 = performance.now();
  log(`▶ ${name}`);
  try {
    await body();
  } catch (error) {
    error.step = name;
    throw error;
  }
  const ms = Math.round(performance.now() - t0);
  timings.push([name, ms]);
  log(`  ✓ ${name} (${ms} ms)`);
}

/// A check whose failure is reported (and fails the run) without stopping the scenario.
function soft(condition, message) {
  if (!condition) {
    const seen = softFailures.find((failure) => failure.message === message);
    if (seen) seen.count += 1;
    else softFailures.push({ message, count: 1 });
    log(`  ✗ SOFT FAILURE: ${message}`);
  }
}

/// Polls `probe` until it returns a truthy value, like the Rust harness's poll_until.
async function until(what, probe, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/// A URL on the loopback interface where nothing listens: connecting is refused at once.
async function refusedBaseUrl() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/v1`;
}

/// A chat completion sent straight to the proxy listener, as an application would send it; with
/// `apiKey`, as a consumer's bearer token, and `content` as the user's message.
async function proxyChat(model, apiKey = null, content = 'Hello from the browser test') {
  const headers = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const response = await fetch(`${PROXY_URL}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Left null: the assertions below show the text.
  }
  const header = (name) => response.headers.get(name);
  return { status: response.status, header, body, text };
}

// ---------------------------------------------------------------------------------------------
// The browser.

await rm(SCREENSHOT_DIR, { recursive: true, force: true });
await mkdir(SCREENSHOT_DIR, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const context = await browser.newContext({
  viewport: DESKTOP,
  colorScheme: 'light',
  locale: 'en-US',
  // The Usage dialog's Copy buttons write to the clipboard; the test reads it back.
  permissions: ['clipboard-read', 'clipboard-write'],
});
context.setDefaultTimeout(WAIT_MS);
const page = await context.newPage();
page.on('pageerror', (error) => browserProblems.push(`page error: ${error.message}`));
page.on('console', (message) => {
  // A failed fetch (the deliberate wrong password's 401) is logged by Chromium itself; anything
  // else at error level, such as a Rust panic, is the console's fault.
  if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
    browserProblems.push(`console error: ${message.text()}`);
  }
});

const id = (testid) => page.getByTestId(testid);
const atPath = (pathname) => page.waitForURL((url) => url.pathname === pathname);

/// Saves the viewport as NN-name.png; toasts are closed first unless `keepToasts`.
async function shot(name, { keepToasts = false } = {}) {
  if (!keepToasts) await dismissToasts();
  const file = path.join(SCREENSHOT_DIR, `${String(screenshots.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  screenshots.push(file);
  return file;
}

/// Waits for a toast whose text matches `pattern` and returns its text.
async function toast(pattern) {
  const found = id('toast').locator('.toast-text').filter({ hasText: pattern }).last();
  await found.waitFor();
  return (await found.textContent()).trim();
}

/// The snapshot version a save's toast names ("… (snapshot v7)"). Toasts stay for a few seconds,
/// so the one wanted is the first matching `pattern` with a version newer than any seen before.
let lastVersion = 0;
async function savedToast(pattern = /Saved — live on the gateway \(snapshot v\d+\)/) {
  const text = await until(`a toast matching ${pattern} newer than snapshot v${lastVersion}`, async () => {
    const texts = await id('toast').locator('.toast-text').allTextContents();
    return texts.find((t) => pattern.test(t) && Number(/snapshot v(\d+)/.exec(t)?.[1] ?? 0) > lastVersion);
  });
  lastVersion = Number(/snapshot v(\d+)/.exec(text)[1]);
  return text;
}

/// Closes every toast, so that screenshots show the page alone.
async function dismissToasts() {
  await page.evaluate(() => document.querySelectorAll('.toast-close').forEach((button) => button.click()));
  await page.waitForFunction(() => !document.querySelector('.toast'));
}

/// Clicks a control as a user would, after checking that nothing covers it. A toast lying over
/// the control is reported (soft) and closed, so that the walk-through does not wait it out.
async function click(testid) {
  const target = id(testid);
  await target.scrollIntoViewIfNeeded();
  const cover = await target.evaluate((element) => {
    const box = element.getBoundingClientRect();
    const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    if (!hit || element.contains(hit)) return null;
    const toast = hit.closest('[data-testid="toast"]');
    return toast ? `the toast "${toast.querySelector('.toast-text')?.textContent}"` : hit.outerHTML.slice(0, 120);
  });
  if (cover) {
    const what = cover.startsWith('the toast') ? 'a toast (bottom right, shown for 5 s after a save)' : cover;
    soft(false, `${testid} cannot be clicked right away: ${what} lies over it`);
    if (cover.startsWith('the toast')) await dismissToasts();
  }
  await target.click();
}

/// Follows a sidebar link (the nav is always visible at desktop width).
async function nav(testid, pathname) {
  await click(testid);
  await atPath(pathname);
}

async function openUserMenu() {
  await click('user-menu');
  await id('logout').waitFor();
}

async function logout() {
  await openUserMenu();
  await click('logout');
  await atPath('/login');
  await id('login-username').waitFor();
}

async function login(password) {
  await id('login-username').fill(USERNAME);
  await id('login-password').fill(password);
  await click('login-submit');
}

async function theme() {
  return page.evaluate(() => document.documentElement.dataset.theme);
}

async function inputValueOf(testid) {
  return id(testid).inputValue();
}

// ---------------------------------------------------------------------------------------------
// Metering: priced traffic through the proxy, then the Usage and Logs pages and the dashboard's
// spend compared with what the admin API answers for the same question.

/// The admin API as the signed-in browser: the context's request client shares its cookies.
async function adminGet(pathAndQuery) {
  const response = await context.request.get(`${CONSOLE_URL}${pathAndQuery}`);
  const text = await response.text();
  assert.equal(response.status(), 200, `GET ${pathAndQuery}: ${text}`);
  return JSON.parse(text);
}

/// A write through the admin API, with the session's CSRF token as the console sends it.
async function adminPut(pathname, body) {
  const { csrf_token: csrf } = await adminGet('/api/auth/me');
  const response = await context.request.put(`${CONSOLE_URL}${pathname}`, {
    data: body,
    headers: { 'x-csrf-token': csrf },
  });
  assert.equal(response.status(), 200, `PUT ${pathname}: ${await response.text()}`);
}

/// Dollars as the console writes them (util.rs fmt_usd): four decimals under a dollar.
function fmtUsd(value) {
  if (!(value > 0)) return '$0.00';
  if (Math.round(value * 10_000) < 10_000) return `$${value.toFixed(4)}`;
  const cents = Math.round(value * 100);
  return `$${Math.floor(cents / 100).toLocaleString('en-US')}.${String(cents % 100).padStart(2, '0')}`;
}
const fmtInt = (value) => value.toLocaleString('en-US');
const fmtMs = (ms) => (ms == null ? '—' : ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

/// Asserts two dollar amounts agree (sums of floats, added in the same order, should be equal;
/// a billionth of a dollar is allowed for a different order).
function assertUsd(actual, expected, what) {
  assert.ok(Math.abs(Number(actual) - expected) < 1e-9, `${what}: the page says ${actual}, the API ${expected}`);
}

/// Usage rows added up as the Usage page adds them (pages/usage/data.rs Totals).
function usageTotals(rows) {
  const t = { requests: 0, errors: 0, tokens: 0, cost: 0, unpriced: 0, saved: 0 };
  for (const row of rows) {
    t.requests += row.requests;
    t.errors += row.errors;
    t.tokens += row.prompt_tokens + row.completion_tokens;
    t.cost += row.cost_usd;
    t.unpriced += row.unpriced_requests;
    t.saved += row.cost_saved_usd ?? 0;
  }
  return t;
}

/// The groups' totals, named as the page names them (a missing consumer is anonymous).
function groupTotals(groupBy, rows) {
  const groups = new Map();
  for (const row of rows) {
    const name = row.group ? row.group : groupBy === 'consumer' || groupBy === 'key' ? 'anonymous' : 'unknown';
    groups.set(name, [...(groups.get(name) ?? []), row]);
  }
  return new Map([...groups].map(([name, list]) => [name, usageTotals(list)]));
}

/// Gives every mock-* model a price on both providers (through the API: the provider form has
/// no price inputs), so the metered traffic costs something.
async function priceTheMockModels() {
  for (const name of ['mock', 'backup']) {
    const spec = await adminGet(`/api/providers/${name}`);
    spec.pricing = { 'mock-*': TEST_PRICES };
    await adminPut(`/api/providers/${name}`, spec);
  }
}

/// In the console: a budget on key ci (in its Edit dialog) and a daily one on team-a (in the
/// consumer form), which also lets team-a call every mock-* model. Returns the key's id.
async function budgetTeamA() {
  await nav('nav-consumers', '/consumers');
  await click('consumer-edit-team-a');
  await atPath('/consumers/team-a');
  await until('the form of team-a', async () => (await inputValueOf('consumer-name')) === 'team-a');
  const keyRow = page.locator('[data-key-name="ci"]');
  const keyId = (await keyRow.getAttribute('data-testid')).replace('key-row-', '');
  await click(`key-edit-${keyId}`);
  const dialog = page.getByRole('dialog', { name: 'Edit key ci' });
  await dialog.waitFor();
  await id('key-edit-budget-enabled').check();
  await id('key-edit-budget-limit').fill('20');
  await id('key-edit-budget-period').selectOption('total');
  await click('key-edit-submit');
  await savedToast(/Key ci saved\. Saved — live on the gateway \(snapshot v\d+\)/);
  await dialog.waitFor({ state: 'detached' });

  await id('consumer-models-input').fill('mock-*');
  await id('consumer-models-input').press('Enter');
  await page.locator('.tag').filter({ hasText: 'mock-*' }).waitFor();
  await id('consumer-budget-enabled').check();
  await id('consumer-budget-limit').fill('5');
  await id('consumer-budget-period').selectOption('day');
  await id('consumer-budget-soft').fill('4');
  await shot('consumer-budget');
  await click('consumer-save');
  await savedToast();
  await atPath('/consumers');
  return Number(keyId);
}

/// Waits until every one of `ids` has its record in /api/logs (a background writer adds them).
async function waitForRecords(ids) {
  await until(`the records of ${ids.join(', ')}`, async () => {
    for (const requestId of ids) {
      const response = await context.request.get(`${CONSOLE_URL}/api/logs/${encodeURIComponent(requestId)}`);
      if (response.status() !== 200) return false;
    }
    return true;
  });
}

/// Three served chats, one answered by the fallback and one that fails, all as team-a's key;
/// returns their request ids once their records are in.
async function sendMeteredTraffic(key, keyId) {
  const served = [];
  for (let i = 0; i < 3; i += 1) {
    const chat = await proxyChat('mock-chat', key);
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-provider'), 'mock');
    served.push(chat.header('x-request-id'));
    proxyCalls.ok += 1;
  }
  const rescued = await proxyChat(FALLBACK_MODEL, key);
  assert.equal(rescued.status, 200, rescued.text);
  assert.equal(rescued.header('x-switchyard-provider'), 'backup');
  assert.equal(rescued.header('x-switchyard-fallback'), 'mock:503,backup:200');
  proxyCalls.ok += 1;
  const failed = await proxyChat(FAILING_MODEL, key);
  assert.ok(failed.status >= 500, `the mock fails ${FAILING_MODEL} everywhere: ${failed.status} ${failed.text}`);
  const traffic = { served, fallback: rescued.header('x-request-id'), failed: failed.header('x-request-id') };
  const ids = [...served, traffic.fallback, traffic.failed];
  assert.ok(ids.every(Boolean), `every answer carries x-request-id: ${ids}`);
  await waitForRecords(ids);
  // The traffic is what the pages are checked with: priced, and team-a's.
  for (const requestId of ids) {
    const record = await adminGet(`/api/logs/${encodeURIComponent(requestId)}`);
    assert.equal(record.consumer, 'team-a', JSON.stringify(record));
    assert.equal(record.key_id, keyId, JSON.stringify(record));
  }
  for (const requestId of [...served, traffic.fallback]) {
    const record = await adminGet(`/api/logs/${encodeURIComponent(requestId)}`);
    assert.ok(record.cost_usd > 0, `a priced record: ${JSON.stringify(record)}`);
  }
  return traffic;
}

/// Waits for the Usage page to show an answer to a question matching `pattern`; returns it.
async function usageQueryShown(pattern) {
  const report = id('usage-page');
  return until(`the Usage page to show an answer to ${pattern}`, async () => {
    if ((await report.getAttribute('aria-busy')) !== 'false') return null;
    const query = await report.getAttribute('data-query');
    return query && pattern.test(query) ? query : null;
  });
}

/// The Usage page's stat cards against the sums of /api/usage for the question they answer.
async function expectUsageStatsMatchApi(pattern) {
  const query = await usageQueryShown(pattern);
  const totals = usageTotals((await adminGet(`/api/usage?${query}`)).rows);
  const raw = (testid) => id(testid).getAttribute('data-value');
  assertUsd(await raw('spend-total'), totals.cost, `spend-total for ${query}`);
  assert.equal(await raw('usage-requests'), String(totals.requests), `usage-requests for ${query}`);
  assert.equal(await raw('usage-tokens'), String(totals.tokens), `usage-tokens for ${query}`);
  const rate = Number(await raw('usage-error-rate'));
  assert.ok(Math.abs(rate - totals.errors / totals.requests) < 1e-12, `usage-error-rate ${rate} for ${query}`);
  assertUsd(await raw('usage-cache-saved'), totals.saved, `usage-cache-saved for ${query}`);
  if (totals.unpriced > 0) {
    assert.equal(await id('usage-unpriced').getAttribute('data-value'), String(totals.unpriced));
  } else {
    assert.equal(await id('usage-unpriced').count(), 0, 'no unpriced note when every request is priced');
  }
  return { query, totals };
}

/// The Usage page's "Top consumers" or "Top models" table against /api/usage grouped that way.
async function expectTopTableMatchesApi(noun, query) {
  const params = new URLSearchParams(query);
  params.set('group_by', noun);
  const groups = groupTotals(noun, (await adminGet(`/api/usage?${params}`)).rows);
  const shown = await id(`usage-top-${noun}`).evaluateAll((rows) => rows.map((row) => ({ ...row.dataset })));
  assert.ok(groups.size <= 10, 'the table shows every group (at most ten)');
  assert.deepEqual(
    shown.map((row) => row.group).sort(),
    [...groups.keys()].sort(),
    `the ${noun}s of the top table`,
  );
  for (const row of shown) {
    const t = groups.get(row.group);
    assertUsd(row.spent, t.cost, `${noun} ${row.group}'s spend`);
    assert.equal(row.tokens, String(t.tokens), `${noun} ${row.group}'s tokens`);
    assert.equal(row.requests, String(t.requests), `${noun} ${row.group}'s requests`);
  }
  const spent = shown.map((row) => Number(row.spent));
  assert.deepEqual(spent, [...spent].sort((a, b) => b - a), `the top ${noun}s come most spend first`);
  return shown;
}

/// Every budget bar against /api/budgets.
async function expectBudgetBarsMatchApi() {
  const { budgets } = await adminGet('/api/budgets');
  const bars = id('budget-bar');
  await until(`${budgets.length} budget bars`, async () => (await bars.count()) === budgets.length);
  const shown = await bars.evaluateAll((items) => items.map((item) => ({ ...item.dataset })));
  for (const budget of budgets) {
    const bar = shown.find(
      (b) => b.scope === budget.scope && b.consumer === budget.consumer && (b.keyId ?? null) === (budget.key_id == null ? null : String(budget.key_id)),
    );
    const what = `the ${budget.scope} budget of ${budget.consumer}${budget.key_id == null ? '' : ` key ${budget.key_id}`}`;
    assert.ok(bar, `${what} has a bar (bars: ${JSON.stringify(shown)})`);
    assertUsd(bar.spent, budget.spent_usd, `${what}: spent`);
    assertUsd(bar.limit, budget.budget.limit_usd, `${what}: limit`);
    assert.equal(bar.period, budget.budget.period, `${what}: period`);
  }
  return budgets;
}

/// Waits for the Logs table to settle and returns its rows' data attributes, in order.
async function logRowsShown() {
  await until('the logs table to load', async () => (await id('logs').getAttribute('aria-busy')) === 'false');
  return id('logs-row').evaluateAll((rows) => rows.map((row) => ({ ...row.dataset })));
}

/// The Logs table against /api/logs with the same filters (`query`), row for row.
async function expectLogRowsMatchApi(query) {
  const api = await adminGet(`/api/logs?${query}${query ? '&' : ''}limit=50`);
  const rows = await until(`the table to show the ${api.items.length} records of /api/logs?${query}`, async () => {
    const shown = await logRowsShown();
    return shown.length === api.items.length && shown[0]?.requestId === api.items[0]?.request_id ? shown : null;
  });
  assert.deepEqual(
    rows.map((row) => [row.requestId, Number(row.status)]),
    api.items.map((item) => [item.request_id, item.status]),
    `the table lists /api/logs?${query} in its order`,
  );
  const times = api.items.map((item) => Date.parse(item.time));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  rows.forEach((row, i) => {
    const item = api.items[i];
    assert.equal(Number(row.tokens), item.prompt_tokens + item.completion_tokens, `tokens of ${item.request_id}`);
    assert.equal(row.estimated, String(item.tokens_estimated), `estimated of ${item.request_id}`);
    if (item.cost_usd == null) assert.equal(row.cost, undefined, `no cost for unpriced ${item.request_id}`);
    else assertUsd(row.cost, item.cost_usd, `cost of ${item.request_id}`);
  });
  assert.equal(await id('logs-older').isDisabled(), api.next_cursor == null, 'Older is offered when there is an older page');
  return rows;
}

/// Opens a record's drawer from its row and checks tokens, cost, timing and the fallback trail
/// against /api/logs/{id}; returns the record.
async function expectDrawerMatchesApi(requestId) {
  const record = await adminGet(`/api/logs/${encodeURIComponent(requestId)}`);
  await page.locator(`[data-testid="logs-row"][data-request-id="${requestId}"]`).click();
  const drawer = page.locator(`[data-testid="log-drawer"][data-request-id="${requestId}"]`);
  await drawer.waitFor();
  await page.waitForURL((url) => url.searchParams.get('request_id') === requestId);
  const field = async (name) => (await id(`log-field-${name}`).textContent()).trim();
  assert.equal(await field('status'), String(record.status));
  assert.equal(await field('provider'), record.provider ?? '—');
  assert.equal(await field('attempts'), String(record.attempts));
  assert.equal(await field('prompt_tokens'), fmtInt(record.prompt_tokens));
  assert.equal(await field('completion_tokens'), fmtInt(record.completion_tokens));
  assert.equal(await field('total_tokens'), fmtInt(record.prompt_tokens + record.completion_tokens));
  const cost = await field('cost_usd');
  if (record.cost_usd == null) assert.match(cost, /^unpriced/);
  else assert.equal(cost, fmtUsd(record.cost_usd));
  assert.equal(await field('latency_ms'), fmtMs(record.latency_ms));
  assert.equal(await field('ttft_ms'), fmtMs(record.ttft_ms));
  assert.equal(await id('log-estimated-note').count(), record.tokens_estimated ? 1 : 0, 'the estimated note');
  const steps = await id('log-trail-step').evaluateAll((items) => items.map((item) => ({ ...item.dataset })));
  assert.deepEqual(
    steps.map((step) => [step.provider, step.status ?? null, step.outcome]),
    record.fallback_trail.map((step) => [step.provider, step.status == null ? null : String(step.status), step.outcome]),
    'the fallback trail',
  );
  return record;
}

async function closeDrawer() {
  await page.keyboard.press('Escape');
  await id('log-drawer').waitFor({ state: 'detached' });
}

/// Today's spend since midnight UTC, as /api/usage answers it.
async function apiSpendToday() {
  const midnight = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000).toISOString();
  const { rows } = await adminGet(`/api/usage?group_by=consumer&bucket=day&since=${encodeURIComponent(midnight)}`);
  return usageTotals(rows).cost;
}

// ---------------------------------------------------------------------------------------------
// The scenario.

let refusedUrl;
const proxyCalls = { ok: 0 };

async function scenario() {
  await step('the first visit to / leads to the setup page', async () => {
    await page.goto(`${CONSOLE_URL}/`);
    await atPath('/setup');
    await page.getByRole('heading', { name: 'System setup' }).waitFor();
    await id('setup-username').waitFor();
    await shot('setup');
  });

  await step('setup refuses a confirmation that does not match', async () => {
    // The code the gateway printed at start (`setup code: …`), when it asks for one.
    if (SETUP_CODE) await id('setup-code').fill(SETUP_CODE);
    await id('setup-username').fill(USERNAME);
    await id('setup-password').fill(PASSWORD);
    await id('setup-confirm').fill(`${PASSWORD}-typo`);
    await click('setup-submit');
    await id('field-error-confirm').filter({ hasText: 'does not match' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/setup');
    assert.equal(await id('setup-confirm').getAttribute('aria-invalid'), 'true');
  });

  await step('setup creates the admin account and opens the dashboard', async () => {
    await id('setup-confirm').fill(PASSWORD);
    await click('setup-submit');
    await atPath('/');
    await toast(/Admin account created/);
    await id('dashboard-metrics').waitFor();
    await id('dashboard-health').getByText('No providers configured yet').waitFor();
    await id('user-menu').filter({ hasText: USERNAME }).waitFor();
  });

  await step('logout leads to the login page', async () => {
    await logout();
    await shot('login');
  });

  await step('a wrong password shows the login error', async () => {
    await login(`${PASSWORD}-wrong`);
    await id('login-error').filter({ hasText: 'Wrong username or password' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(await inputValueOf('login-password'), '', 'the wrong password is cleared');
    await shot('login-error');
  });

  await step('the right password signs in to the dashboard', async () => {
    await login(PASSWORD);
    await atPath('/');
    await id('dashboard-metrics').waitFor();
    await id('login-error').waitFor({ state: 'detached' });
  });

  await step('the theme toggle switches between light and dark, and remembers it', async () => {
    assert.equal(await theme(), 'light', 'a light system preference starts light');
    await click('theme-toggle');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    assert.equal(await page.evaluate(() => localStorage.getItem('switchyard-theme')), 'dark');
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await click('theme-toggle');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
    const lightBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(background, lightBackground, 'the dark theme changes the page colours');
    assert.equal(await page.evaluate(() => localStorage.getItem('switchyard-theme')), 'light');
  });

  await step('at desktop width the sidebar is always there, with no menu button', async () => {
    await id('nav-providers').waitFor({ state: 'visible' });
    const menu = page.getByRole('button', { name: 'Menu' });
    soft(
      await menu.isHidden(),
      'At 1280×800 the topbar shows the "Menu" (hamburger) button although the sidebar is always shown and the button does nothing there: in console/style.css the later `.icon-btn { display: inline-flex }` overrides `.menu-btn { display: none }` (same specificity), so the button is only meant for ≤ 900 px but shows at every width',
    );
  });

  await step('the providers page starts empty', async () => {
    await nav('nav-providers', '/providers');
    await page.getByText('No providers yet').waitFor();
    await shot('providers-empty');
  });

  await step('the provider form shows a field error for an invalid name', async () => {
    await click('provider-new');
    await atPath('/providers/new');
    await id('provider-name').fill('Not A Valid Name!');
    await click('provider-save');
    await id('field-error-name').waitFor();
    assert.equal(await id('provider-name').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/providers/new', 'nothing was saved');
  });

  await step('create provider "mock" (openai-compatible, one key, model mock-chat)', async () => {
    await id('provider-type').selectOption('openai-compatible');
    await id('provider-name').fill('mock');
    await id('provider-base-url').fill(MOCK_BASE_URL);
    // A new provider starts with one empty key row.
    await id('provider-key-0').fill(MOCK_API_KEY);
    await id('models-input').fill('mock-chat');
    await id('models-input').press('Enter');
    await page.locator('.tag').filter({ hasText: 'mock-chat' }).waitFor();
    await click('provider-save');
    await savedToast();
    await atPath('/providers');
    const row = id('provider-row-mock');
    await row.filter({ hasText: MOCK_BASE_URL }).waitFor();
    await row.getByText('openai-compatible').waitFor();
    assert.ok(!(await page.content()).includes(MOCK_API_KEY), 'the key never comes back to the browser');
    await shot('providers', { keepToasts: true });
  });

  await step('create route "mock-route" (prefix mock-, upstream mock, weight 100)', async () => {
    await nav('nav-routes', '/routes');
    await page.getByText('No routes yet').waitFor();
    await click('route-new');
    await atPath('/routes/new');
    await id('route-name').fill('mock-route');
    assert.equal(await id('route-match-type-0').inputValue(), 'prefix');
    await id('route-match-value-0').fill('mock-');
    await id('route-upstream-provider-0').selectOption('mock');
    await id('route-upstream-weight-0').fill('100');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('route-form');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    const row = id('route-row-mock-route');
    await row.filter({ hasText: 'mock ×100' }).waitFor();
    await row.getByText('mock-', { exact: true }).waitFor();
    const chipGap = await row.locator('.chip-match').evaluate((chip) => {
      const kind = chip.querySelector('.chip-kind').getBoundingClientRect();
      const value = chip.querySelector('.mono').getBoundingClientRect();
      return value.left - kind.right;
    });
    soft(
      chipGap >= 2,
      `Routes list: a match chip reads "prefixmock-": the " " between kind and value collapses because .chip is display: inline-flex (gap ${chipGap.toFixed(1)} px)`,
    );
    await shot('routes');
  });

  await step('a chat through the proxy takes the new route', async () => {
    const chat = await proxyChat('mock-chat');
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-route'), 'mock-route');
    assert.equal(chat.header('x-switchyard-provider'), 'mock');
    assert.equal(chat.body?.choices?.[0]?.message?.content, MOCK_ANSWER);
    proxyCalls.ok += 1;
  });

  await step('the Usage dialog shows snippets for the route and copies them', async () => {
    await click('route-usage-mock-route');
    const dialog = page.getByRole('dialog', { name: 'Use route mock-route' });
    await dialog.waitFor();
    const curl = (await id('usage-curl').textContent()).trim();
    const python = (await id('usage-python').textContent()).trim();
    assert.match(curl, /\/v1\/chat\/completions/);
    assert.match(curl, /"model": "mock-model"/, 'the example model is one the route matches');
    assert.match(python, /model="mock-model"/);
    // The snippets must name the proxy this gateway really listens on, not a guessed :8080.
    soft(
      curl.includes(`${PROXY_URL}/v1/chat/completions`) && python.includes(`base_url="${PROXY_URL}/v1"`),
      `Usage dialog: the snippets should call the gateway's proxy listener ${PROXY_URL}/v1, but they name ${/http:\/\/\S+?\/v1/.exec(curl)?.[0]} (console/src/pages/routes.rs proxy_base_url() hard-codes port 8080; the console is never told the real --listen address)`,
    );
    await shot('usage-dialog');
    await click('usage-curl-copy');
    await id('usage-curl-copy').filter({ hasText: 'Copied' }).waitFor();
    const clipboard = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clipboard.trim(), curl, 'Copy puts the snippet on the clipboard');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  await step('create provider "backup" for the fallback', async () => {
    await nav('nav-providers', '/providers');
    await click('provider-new');
    await atPath('/providers/new');
    // The picker groups the 46 types and shows the chosen one's facts from its preset.
    const groups = await id('provider-type').locator('optgroup').evaluateAll((els) => els.map((e) => e.label));
    assert.deepEqual(groups, ['Frontier labs', 'China', 'Inference clouds and aggregators', 'Self-hosted and generic']);
    assert.equal(await id('provider-type').locator('option').count(), 46, 'every provider type is offered');
    await id('provider-type').selectOption('deepseek');
    await id('provider-type-default-model').filter({ hasText: 'deepseek-chat' }).waitFor();
    assert.equal(await id('provider-base-url').getAttribute('placeholder'), 'https://api.deepseek.com/v1');
    await id('provider-type').selectOption('bedrock');
    await id('provider-type-info').filter({ hasText: /ACCESS_KEY_ID:SECRET_ACCESS_KEY/ }).waitFor();
    await id('provider-type').selectOption('openai-compatible');
    await id('provider-name').fill('backup');
    await id('provider-base-url').fill(MOCK_BASE_URL);
    await id('provider-key-0').fill(MOCK_API_KEY);
    // Another key row comes and goes.
    await click('provider-key-add');
    await id('provider-key-1').fill('sk-browser-extra-key-000000');
    await click('provider-key-remove-1');
    await id('provider-key-1').waitFor({ state: 'detached' });
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('provider-form');
    await click('provider-save');
    await savedToast();
    await atPath('/providers');
    await id('provider-row-backup').waitFor();
    await id('provider-row-mock').waitFor();
  });

  await step('edit the route: enable the fallback to "backup"', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    assert.equal(await inputValueOf('route-name'), 'mock-route');
    assert.equal(await id('route-name').getAttribute('readonly'), '', 'a route keeps its name');
    await id('route-fallback-enabled').check();
    await click('route-fallback-add');
    await id('route-fallback-provider-0').selectOption('backup');
    // An openai-compatible server has no default model: nothing is filled in for it.
    assert.equal(await inputValueOf('route-fallback-model-0'), '');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-row-mock-route').filter({ hasText: /on\s*backup/ }).waitFor();
  });

  await step('edit provider "mock" to point at a closed port (another host needs its key again)', async () => {
    refusedUrl = await refusedBaseUrl();
    await nav('nav-providers', '/providers');
    await click('provider-edit-mock');
    await atPath('/providers/mock');
    assert.equal(await inputValueOf('provider-name'), 'mock');
    const storedKey = await inputValueOf('provider-key-0');
    assert.ok(storedKey.includes('…') && !storedKey.includes(MOCK_API_KEY), `the stored key shows masked: ${storedKey}`);
    assert.equal(await id('provider-key-0').getAttribute('readonly'), '');
    await id('provider-base-url').fill(refusedUrl);
    await click('provider-save');
    // The stored key would go to a host it was never sent to: the server wants it typed again.
    await page.getByText('send this provider').first().waitFor();
    await click('provider-key-remove-0');
    await click('provider-key-add');
    await id('provider-key-0').fill(MOCK_API_KEY);
    await click('provider-save');
    await savedToast();
    await atPath('/providers');
    await id('provider-row-mock').filter({ hasText: refusedUrl }).waitFor();
  });

  await step('the fallback takes effect on the proxy: the chat succeeds through "backup"', async () => {
    const chat = await proxyChat('mock-chat');
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-route'), 'mock-route');
    assert.equal(chat.header('x-switchyard-provider'), 'backup');
    const trail = chat.header('x-switchyard-fallback') ?? '';
    assert.match(trail, /^mock:/, `the trail starts with the failed primary: ${trail}`);
    assert.ok(trail.split(',').includes('backup:200'), `the trail ends at backup: ${trail}`);
    assert.equal(chat.body?.choices?.[0]?.message?.content, MOCK_ANSWER);
    proxyCalls.ok += 1;
  });

  await step('the route form shows a field error for weight 1001 and saves nothing', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    await id('route-upstream-weight-0').fill('1001');
    await click('route-save');
    await id('field-error-upstreams[0].weight').filter({ hasText: 'between 0 and 1000' }).waitFor();
    assert.equal(await id('route-upstream-weight-0').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/routes/mock-route', 'the form stays open');
    await shot('route-form-error');
    // Typing a valid weight and saving clears the error.
    await id('route-upstream-weight-0').fill('100');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-row-mock-route').filter({ hasText: 'mock ×100' }).waitFor();
  });

  await step('the playground streams an answer and shows how it was served', async () => {
    await nav('nav-playground', '/playground');
    await id('playground-model').selectOption('mock-chat');
    await id('playground-prompt').fill('Say hello');
    await click('playground-send');
    await id('playground-output').filter({ hasText: MOCK_ANSWER }).waitFor();
    await id('playground-send').filter({ hasText: 'Send' }).waitFor();
    assert.equal(await id('playground-send').isEnabled(), true);
    await id('playground-meta-route').filter({ hasText: 'mock-route' }).waitFor();
    assert.equal((await id('playground-meta-provider').textContent()).trim(), 'backup');
    assert.match(await id('playground-meta-fallback').textContent(), /backup:200/);
    await id('playground-meta').getByText('200', { exact: true }).waitFor();
    assert.equal(await id('playground-error').count(), 0);
    proxyCalls.ok += 1;
    await shot('playground');
  });

  let importedToast = '';
  await step('configuration: export, preview an import, apply it', async () => {
    await nav('nav-config', '/config');
    await id('status-version').filter({ hasText: new RegExp(`^${lastVersion}$`) }).waitFor();
    await click('config-export');
    const exported = await until('the exported YAML', async () => {
      const text = await inputValueOf('config-export-text');
      return text.includes('mock-route') ? text : null;
    });
    assert.match(exported, /name: backup/);
    assert.ok(exported.includes(refusedUrl), 'the export has the edited base URL');
    assert.ok(!exported.includes(MOCK_API_KEY), 'the export masks API keys');

    // The change: mock points at the mock upstream again (update), and a new route (create).
    // Moving a provider to another host needs its key in full: the masked one is replaced.
    const mockKey = /(- name: mock\n(?:  .*\n)*?  api_keys:\n  - )(\S+)/;
    assert.match(exported, mockKey, 'the export lists mock\'s masked key');
    const modified = exported
      .replace(mockKey, `$1${MOCK_API_KEY}`)
      .replace(refusedUrl, MOCK_BASE_URL)
      .replace(
        /^routes:\n/m,
        'routes:\n- name: backup-route\n  match:\n  - type: prefix\n    value: backup-\n  upstreams:\n  - provider: backup\n',
      );
    assert.notEqual(modified, exported);
    assert.equal(await id('config-apply').isDisabled(), true, 'Apply needs a preview first');
    await id('config-import-text').fill(modified);
    await click('config-preview');
    const diff = id('config-diff');
    await diff.waitFor();
    await diff.locator('.diff-create').filter({ hasText: 'backup-route' }).waitFor();
    await diff.locator('.diff-update').filter({ hasText: 'mock' }).waitFor();
    assert.match(await diff.textContent(), /\+ create \(1\)/);
    assert.match(await diff.textContent(), /~ update \(1\)/);
    await page.waitForFunction(() => !document.querySelector('[data-testid="config-apply"]').disabled);
    await diff.scrollIntoViewIfNeeded();
    await shot('configuration');
    await click('config-apply');
    importedToast = await savedToast(/snapshot v\d+/);
    await diff.waitFor({ state: 'detached' });
    await id('status-version').filter({ hasText: new RegExp(`^${lastVersion}$`) }).waitFor();
    // The toast summarises what changed. It should agree with the preview: mock updated,
    // backup-route created, and backup and mock-route unchanged (so not counted).
    assert.match(importedToast, /routes created 1/);
    const summary = importedToast.split('). ')[1] ?? '';
    soft(
      summary === 'providers updated 1, routes created 1',
      `Configuration import: the preview showed providers update (1) mock, unchanged backup, routes create (1) backup-route, unchanged mock-route; the apply toast should summarise "providers updated 1, routes created 1" but says "${summary}" (unchanged items are counted as updated)`,
    );
  });

  await step('the imported configuration is live on the proxy', async () => {
    const chat = await proxyChat('backup-chat');
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-route'), 'backup-route');
    assert.equal(chat.header('x-switchyard-provider'), 'backup');
    proxyCalls.ok += 1;
    await nav('nav-providers', '/providers');
    await id('provider-row-mock').filter({ hasText: MOCK_BASE_URL }).waitFor();
  });

  await step('delete the imported route behind a confirmation', async () => {
    await nav('nav-routes', '/routes');
    await click('route-delete-backup-route');
    await page.getByRole('dialog', { name: 'Delete route backup-route?' }).waitFor();
    await click('confirm-dialog-ok');
    await savedToast(/Route backup-route deleted\. Saved — live on the gateway \(snapshot v\d+\)/);
    await id('route-row-backup-route').waitFor({ state: 'detached' });
    await id('route-row-mock-route').waitFor();
    const chat = await proxyChat('backup-chat');
    assert.equal(chat.status, 404, `no route takes backup-chat any more: ${chat.text}`);
  });

  // Here rather than right after the fallback steps, where the design placed it: until the import
  // above, "mock" points at a closed port, so it could not have measured a time to first token.
  await step('the route form sets a strategy: cost_under_latency needs a target, then routes and shows live estimates', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    assert.equal(await id('route-strategy').inputValue(), 'weighted');
    assert.equal(await id('route-strategy').locator('option').count(), 6, 'every strategy is offered');
    await id('route-strategy').selectOption('cost_under_latency');
    await id('route-strategy-hint').filter({ hasText: 'cheapest' }).waitFor();
    await click('route-save');
    await id('field-error-max_latency_ms').filter({ hasText: 'cost_under_latency needs max_latency_ms' }).waitFor();
    assert.equal(await id('route-max-latency').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/routes/mock-route', 'the form stays open');
    await id('route-max-latency').fill('5000');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-strategy-mock-route').filter({ hasText: 'cost ≤ 5000 ms' }).waitFor();

    const chat = await proxyChat('mock-chat');
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-provider'), 'mock');
    const strategy = chat.header('x-switchyard-strategy') ?? '';
    assert.match(strategy, /^cost_under_latency(;|$)/, `the answer says how it was routed: ${strategy}`);
    proxyCalls.ok += 1;

    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    assert.equal(await inputValueOf('route-max-latency'), '5000');
    // The chat above was measured before this page loaded, so the card's first poll shows it.
    const ttft = id('route-live-mock').locator('[data-testid="route-live-ttft"]');
    await ttft.filter({ hasText: /^\s*\d+ ms\s*$/ }).waitFor();
    const live = (await adminGet('/api/health')).routes.find((route) => route.name === 'mock-route');
    assert.equal(live?.strategy, 'cost_under_latency', JSON.stringify(live));
    assert.ok(live.upstreams.find((u) => u.provider === 'mock')?.ttft_ms != null, JSON.stringify(live));
    await id('route-live').scrollIntoViewIfNeeded();
    await shot('route-live');

    // Later steps expect the default strategy; switching back drops the target from the route.
    await id('route-strategy').selectOption('weighted');
    await id('route-max-latency').waitFor({ state: 'detached' });
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-strategy-mock-route').waitFor({ state: 'detached' });
    const route = await adminGet('/api/routes/mock-route');
    assert.equal(route.strategy, undefined, JSON.stringify(route));
    assert.equal(route.max_latency_ms, undefined, JSON.stringify(route));
  });

  // -------------------------------------------------------------------------------------------
  // Consumers, their keys, and requiring keys on the proxy.

  let consumerKey = '';

  await step('create consumer "team-a" with limits and allowed models', async () => {
    await nav('nav-consumers', '/consumers');
    await page.getByText('No consumers yet').waitFor();
    await id('client-auth-banner').filter({ hasText: 'Client keys are off' }).waitFor();
    await click('consumer-new');
    await atPath('/consumers/new');
    await id('consumer-name').fill('team-a');
    await id('consumer-description').fill('The browser test');
    for (const glob of ['mock-chat', 'qwen-*']) {
      await id('consumer-models-input').fill(glob);
      await id('consumer-models-input').press('Enter');
    }
    await page.locator('.tag').filter({ hasText: 'qwen-*' }).waitFor();
    // The shared validation runs before anything is sent: a limit of 0 is refused in place.
    await id('consumer-limits-rpm').fill('0');
    await click('consumer-save');
    await id('field-error-limits.rpm').waitFor();
    assert.equal(await id('consumer-limits-rpm').getAttribute('aria-invalid'), 'true');
    assert.equal(new URL(page.url()).pathname, '/consumers/new', 'nothing was saved');
    await id('consumer-limits-rpm').fill('60');
    await id('consumer-limits-tpm').fill('100000');
    await id('consumer-limits-max_concurrent').fill('4');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('consumer-form');
    await click('consumer-save');
    await savedToast();
    // A new consumer's own page comes next, where its first key is made.
    await atPath('/consumers/team-a');
    await id('consumer-keys').getByText('No keys yet').waitFor();
    assert.equal(await inputValueOf('consumer-limits-rpm'), '60');
  });

  await step('create a key: the full key is shown once, with a copy button and snippets', async () => {
    await click('key-new');
    await page.getByRole('dialog', { name: 'Create key' }).waitFor();
    await id('key-name').fill('ci');
    await click('key-create-submit');
    const reveal = page.getByRole('dialog', { name: 'Key ci created' });
    await reveal.waitFor();
    consumerKey = await inputValueOf('key-reveal-value');
    assert.match(consumerKey, /^sy-[0-9A-Za-z]{36,}$/, `a Switchyard key: ${consumerKey.slice(0, 5)}…`);
    const curl = (await id('key-curl').textContent()).trim();
    const python = (await id('key-python').textContent()).trim();
    assert.ok(curl.includes(`curl ${PROXY_URL}/v1/chat/completions`), `curl calls the real proxy port: ${curl}`);
    assert.ok(curl.includes(`Authorization: Bearer ${consumerKey}`), 'curl sends the key');
    assert.match(curl, /"model": "mock-chat"/, 'the example model is one the consumer may call');
    assert.ok(
      python.includes(`OpenAI(base_url="${PROXY_URL}/v1", api_key="${consumerKey}")`),
      `the Python snippet uses the proxy and the key: ${python}`,
    );
    await click('key-reveal-copy');
    await id('key-reveal-copy').filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), consumerKey);
    // The only view of the key does not close by accident.
    await page.keyboard.press('Escape');
    assert.equal(await reveal.isVisible(), true, 'Escape leaves the reveal dialog open');
    await shot('key-reveal');
    await click('key-reveal-done');
    await reveal.waitFor({ state: 'detached' });
  });

  await step('after the dialog, only the masked key is shown', async () => {
    const row = page.locator('[data-key-name="ci"]');
    await row.waitFor();
    const masked = (await row.locator('code').textContent()).trim();
    assert.equal(masked, `sy-…${consumerKey.slice(-4)}`);
    await row.getByText('active').waitFor();
    assert.ok(!(await page.content()).includes(consumerKey), 'the full key is gone from the page');
    await page.reload();
    await page.locator('[data-key-name="ci"]').waitFor();
    assert.ok(!(await page.content()).includes(consumerKey), 'and the server never sends it again');
    await shot('consumer-keys');
  });

  await step('the key calls the proxy: 200 with rate-limit headers; other models get 403', async () => {
    const chat = await proxyChat('mock-chat', consumerKey);
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-route'), 'mock-route');
    assert.equal(chat.body?.choices?.[0]?.message?.content, MOCK_ANSWER);
    proxyCalls.ok += 1;
    soft(
      chat.header('x-ratelimit-limit-requests') === '60',
      `a limited consumer's answer carries x-ratelimit-limit-requests: 60 (got ${chat.header('x-ratelimit-limit-requests')})`,
    );
    const denied = await proxyChat('mock-other', consumerKey);
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.body?.error?.code, 'model_not_allowed', denied.text);
    const last = consumerKey.at(-1) === 'a' ? 'b' : 'a';
    const mistyped = await proxyChat('mock-chat', `${consumerKey.slice(0, -1)}${last}`);
    assert.equal(mistyped.status, 401, `a mistyped key is refused: ${mistyped.text}`);
    assert.ok(!mistyped.text.includes(consumerKey.slice(3, 20)), 'the refusal does not echo the key');
  });

  await step('rotate the key with a grace period; deleting the old key refuses it at once', async () => {
    const oldRow = page.locator('[data-key-name="ci"]');
    const oldId = (await oldRow.getAttribute('data-testid')).replace('key-row-', '');
    await click(`key-rotate-${oldId}`);
    await page.getByRole('dialog', { name: /^Rotate key ci/ }).waitFor();
    await id('key-rotate-grace').selectOption('3600');
    await click('key-rotate-confirm');
    const reveal = page.getByRole('dialog', { name: 'New key for ci' });
    await reveal.waitFor();
    const newKey = await inputValueOf('key-reveal-value');
    assert.match(newKey, /^sy-/);
    assert.notEqual(newKey, consumerKey);
    await click('key-reveal-done');
    await reveal.waitFor({ state: 'detached' });
    await until('two keys named ci', async () => (await page.locator('[data-key-name="ci"]').count()) === 2);
    await id(`key-row-${oldId}`).getByText('expires').waitFor();
    for (const key of [consumerKey, newKey]) {
      const chat = await proxyChat('mock-chat', key);
      assert.equal(chat.status, 200, `both keys work during the grace period: ${chat.text}`);
      proxyCalls.ok += 1;
    }
    await click(`key-delete-${oldId}`);
    await page.getByRole('dialog', { name: /^Delete key ci/ }).waitFor();
    await click('confirm-dialog-ok');
    await savedToast(/Key ci deleted\. Saved — live on the gateway \(snapshot v\d+\)/);
    await id(`key-row-${oldId}`).waitFor({ state: 'detached' });
    const revoked = await proxyChat('mock-chat', consumerKey);
    assert.equal(revoked.status, 401, `a deleted key is refused on the next request: ${revoked.text}`);
    consumerKey = newKey;
  });

  await step('the consumers list shows team-a, its key and its limits', async () => {
    await nav('nav-consumers', '/consumers');
    const row = id('consumer-row-team-a');
    await row.filter({ hasText: 'enabled' }).waitFor();
    await row.filter({ hasText: '60 rpm · 100,000 tpm · 4 concurrent' }).waitFor();
    assert.equal((await row.locator('td.num').textContent()).trim(), '1');
    await shot('consumers');
  });

  await step('Settings: require client keys; the warning goes and keyless calls get 401', async () => {
    await nav('nav-settings', '/settings');
    await id('settings-auth-warning').waitFor();
    assert.match(await id('settings-effective').textContent(), /In force on the proxy:\s*off/);
    assert.equal(await id('client-auth-banner').count(), 0, 'the page shows its own warning, not the banner');
    assert.equal(await id('settings-client-auth-off').isChecked(), true);
    await id('settings-client-auth-required').check();
    await shot('settings');
    await click('settings-save');
    await savedToast();
    await id('settings-auth-warning').waitFor({ state: 'detached' });
    assert.match(await id('settings-effective').textContent(), /In force on the proxy:\s*required/);
    await nav('nav-dashboard', '/');
    await id('dashboard-metrics').waitFor();
    assert.equal(await id('client-auth-banner').count(), 0, 'no warning once keys are required');
    const anonymous = await proxyChat('mock-chat');
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.equal(anonymous.body?.error?.code, 'invalid_api_key', anonymous.text);
    const keyed = await proxyChat('mock-chat', consumerKey);
    assert.equal(keyed.status, 200, keyed.text);
    proxyCalls.ok += 1;
  });

  await step('the route form keeps what it does not show, and edits who may call', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    await id('route-allowed-consumers-input').fill('team-b');
    await id('route-allowed-consumers-input').press('Enter');
    await id('route-limits-rpm').fill('1000');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-row-mock-route').filter({ hasText: 'Only team-b' }).waitFor();
    await id('route-row-mock-route').filter({ hasText: '1,000 rpm' }).waitFor();
    await id('route-row-mock-route').filter({ hasText: /on\s*backup/ }).waitFor();
    const other = await proxyChat('mock-chat', consumerKey);
    assert.equal(other.status, 403, `team-a may not use a route only team-b may: ${other.text}`);
    assert.equal(other.body?.error?.code, 'route_not_allowed', other.text);
    // Back to every caller: the list is emptied and the limit cleared.
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    await page.getByRole('button', { name: 'Remove team-b' }).click();
    await id('route-limits-rpm').fill('');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    await id('route-row-mock-route').filter({ hasText: 'Every caller' }).waitFor();
    const again = await proxyChat('mock-chat', consumerKey);
    assert.equal(again.status, 200, again.text);
    proxyCalls.ok += 1;
  });

  await step('the account page changes the password', async () => {
    await openUserMenu();
    await click('change-password');
    await atPath('/account');
    await page.getByText(`Signed in as ${USERNAME}.`).waitFor();
    await shot('account');
    await id('account-current').fill(PASSWORD);
    await id('account-new').fill(NEW_PASSWORD);
    await id('account-confirm').fill(NEW_PASSWORD);
    await click('account-save');
    await toast(/Password changed/);
    assert.equal(await inputValueOf('account-current'), '', 'the form is emptied');
  });

  await step('an unknown address shows the not-found page (after a full reload)', async () => {
    await page.goto(`${CONSOLE_URL}/no-such-page`);
    await id('not-found').waitFor();
    await id('nav-dashboard').waitFor();
  });

  await step('at phone width the menu button opens the navigation', async () => {
    await page.setViewportSize(PHONE);
    await id('nav-providers').waitFor({ state: 'hidden' });
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.waitFor();
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    await menu.click();
    await id('nav-providers').waitFor({ state: 'visible' });
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    await shot('phone-menu');
    await click('nav-providers');
    await atPath('/providers');
    await id('nav-providers').waitFor({ state: 'hidden' });
    await id('provider-row-mock').waitFor();
    await shot('phone-providers');
    await page.setViewportSize(DESKTOP);
  });

  await step('the dashboard shows the requests made, per route and provider', async () => {
    await nav('nav-dashboard', '/');
    const requests = page.locator('.stat').filter({ hasText: 'Requests (60 min)' }).locator('.stat-value');
    await until(`at least ${proxyCalls.ok} requests on the dashboard`, async () => {
      const count = Number((await requests.textContent()).replace(/,/g, ''));
      if (count >= proxyCalls.ok) return true;
      await page.getByRole('button', { name: 'Refresh' }).click();
      return false;
    });
    const byRoute = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'By route' }) });
    await byRoute.getByRole('rowheader', { name: 'mock-route', exact: true }).waitFor();
    await byRoute.getByRole('rowheader', { name: 'backup-route', exact: true }).waitFor();
    const byProvider = page.locator('section.card').filter({ has: page.getByRole('heading', { name: 'By provider' }) });
    await byProvider.getByRole('rowheader', { name: 'backup', exact: true }).waitFor();
    await byProvider.getByRole('rowheader', { name: 'mock', exact: true }).waitFor();
    await id('health-row-mock').waitFor();
    await id('health-row-backup').waitFor();
    const overflowing = await page
      .locator('main .table-wrap')
      .evaluateAll((wraps) =>
        wraps
          .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
          .map((wrap) => wrap.closest('section')?.querySelector('h2')?.textContent?.trim()),
      );
    soft(
      overflowing.length === 0,
      `Dashboard at 1280×800: the ${overflowing.join(' and ')} table(s) are wider than their cards, so the "Tokens in / out" column is cut off and only shows after scrolling sideways`,
    );
    const file = await shot('dashboard');
    if (README_SCREENSHOT) await copyFile(file, README_SCREENSHOT);
    await click('theme-toggle');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    await shot('dashboard-dark');
    await click('theme-toggle');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  });

  // -------------------------------------------------------------------------------------------
  // Metering: priced traffic, then Usage, Logs and the dashboard's spend against the API.

  let keyId = 0;
  let traffic = null;

  await step('price the mock models, and give team-a and its key budgets in the console', async () => {
    await priceTheMockModels();
    keyId = await budgetTeamA();
    await id('consumer-row-team-a').filter({ hasText: 'enabled' }).waitFor();
  });

  await step('send priced traffic as team-a: three chats, a fallback and a failure', async () => {
    traffic = await sendMeteredTraffic(consumerKey, keyId);
    const rescued = await adminGet(`/api/logs/${encodeURIComponent(traffic.fallback)}`);
    assert.deepEqual(
      rescued.fallback_trail.map((s) => `${s.provider}:${s.status}`),
      ['mock:503', 'backup:200'],
      'the fallback record has the trail the proxy answered with',
    );
  });

  await step('Usage (24 h, by consumer) shows the totals and top tables of /api/usage', async () => {
    await nav('nav-usage', '/usage');
    await click('usage-range-24h');
    assert.equal(await id('usage-range-24h').getAttribute('aria-pressed'), 'true');
    const { query, totals } = await expectUsageStatsMatchApi(/^group_by=consumer&bucket=hour&since=/);
    // The range starts at most 24 hours ago and holds all of this run's traffic.
    const since = Date.parse(new URLSearchParams(query).get('since'));
    const first = Date.parse((await adminGet(`/api/logs/${encodeURIComponent(traffic.served[0])}`)).time);
    assert.ok(since <= first && since >= Date.now() - 24 * 3_600_000, `24 h from ${new Date(since).toISOString()}`);
    assert.ok(totals.requests >= 5 && totals.errors >= 1 && totals.cost > 0, JSON.stringify(totals));
    const consumers = await expectTopTableMatchesApi('consumer', query);
    assert.ok(Number(consumers.find((row) => row.group === 'team-a')?.spent) > 0, 'team-a spent something');
    const models = await expectTopTableMatchesApi('model', query);
    assert.ok(models.some((row) => row.group === FALLBACK_MODEL), `${FALLBACK_MODEL} is among the top models`);
    await id('usage-chart-spend').waitFor();
    await shot('usage');
  });

  await step('Usage by model, and over 30 days, still adds up to /api/usage', async () => {
    await id('usage-group-by').selectOption('model');
    const byModel = await expectUsageStatsMatchApi(/^group_by=model&bucket=hour&since=/);
    await click('usage-range-30d');
    const month = await expectUsageStatsMatchApi(/^group_by=model&bucket=day&since=/);
    // This run's traffic is minutes old: the 30 days hold the same requests as the 24 hours.
    assert.equal(month.totals.requests, byModel.totals.requests);
    assertUsd(month.totals.cost, byModel.totals.cost, 'the 30 days\' spend');
    await click('usage-range-24h');
    await id('usage-group-by').selectOption('consumer');
    await usageQueryShown(/^group_by=consumer&bucket=hour&since=/);
  });

  await step('each budget bar shows the spend and limit of /api/budgets', async () => {
    const budgets = await expectBudgetBarsMatchApi();
    const consumer = budgets.find((b) => b.scope === 'consumer' && b.consumer === 'team-a');
    const key = budgets.find((b) => b.scope === 'key' && b.key_id === keyId);
    assert.ok(consumer && key, `team-a's and key ci's budgets: ${JSON.stringify(budgets)}`);
    assert.deepEqual([consumer.budget.limit_usd, consumer.budget.period, consumer.budget.soft_limit_usd], [5, 'day', 4]);
    assert.deepEqual([key.budget.limit_usd, key.budget.period], [20, 'total']);
    assert.ok(consumer.spent_usd > 0 && key.spent_usd > 0, 'the priced traffic counts against both budgets');
    await id('usage-budgets').scrollIntoViewIfNeeded();
    await shot('usage-budgets');
  });

  await step('Logs lists the records of /api/logs, newest first', async () => {
    await nav('nav-logs', '/logs');
    const rows = await expectLogRowsMatchApi('');
    const ids = rows.map((row) => row.requestId);
    for (const requestId of [...traffic.served, traffic.fallback, traffic.failed]) {
      assert.ok(ids.includes(requestId), `the table lists ${requestId}`);
    }
    await shot('logs');
  });

  await step('Logs filtered to errors shows only the errors of /api/logs?status=error', async () => {
    await id('logs-filter-status').selectOption('error');
    await click('logs-apply');
    await page.waitForURL((url) => url.searchParams.get('status') === 'error');
    const rows = await expectLogRowsMatchApi('status=error');
    assert.ok(rows.every((row) => Number(row.status) >= 400), `only errors: ${rows.map((row) => row.status)}`);
    assert.ok(rows.some((row) => row.requestId === traffic.failed), 'the failed request is listed');
    assert.ok(!rows.some((row) => traffic.served.includes(row.requestId)), 'served requests are not');
    await shot('logs-errors');
  });

  await step('a record\'s drawer shows the tokens, cost and trail of /api/logs/{id}', async () => {
    const failed = await expectDrawerMatchesApi(traffic.failed);
    assert.ok(failed.status >= 500 && failed.fallback_trail.length >= 2, JSON.stringify(failed));
    await closeDrawer();
    await page.waitForURL((url) => url.searchParams.get('status') === 'error' && !url.searchParams.has('request_id'));
    await click('logs-reset');
    await page.waitForURL((url) => url.search === '');
    await expectLogRowsMatchApi('');
    const rescued = await expectDrawerMatchesApi(traffic.fallback);
    assert.equal(rescued.provider, 'backup');
    assert.ok(rescued.cost_usd > 0 && rescued.prompt_tokens > 0, JSON.stringify(rescued));
    await shot('log-drawer');
    await closeDrawer();
    const served = await expectDrawerMatchesApi(traffic.served[0]);
    assert.equal(served.fallback_trail.length, 0);
    assert.match(await id('log-trail').textContent(), /One attempt, answered by mock\./);
    await closeDrawer();
  });

  await step('the dashboard\'s spend today is today\'s spend in /api/usage', async () => {
    await nav('nav-dashboard', '/');
    const spend = id('spend-today');
    const [shown, expected] = await until('spend-today to show today\'s spend', async () => {
      const value = await spend.getAttribute('data-value');
      const today = await apiSpendToday();
      return value != null && Math.abs(Number(value) - today) < 1e-9 ? [value, today] : null;
    });
    assert.ok(expected > 0, 'today\'s traffic cost something');
    assert.equal((await spend.textContent()).trim(), fmtUsd(Number(shown)));
  });

  await step('create guardrail policy "pii-browser" in its form: emails, a custom pattern, deny words', async () => {
    await nav('nav-guardrails', '/guardrails');
    await page.getByText('No guardrail policies yet').waitFor();
    await click('guardrail-new');
    await atPath('/guardrails/new');
    await id('guardrail-form-name').fill('pii-browser');
    await id('guardrail-form-description').fill('Made in the browser test');
    // A new policy starts with one detector: email addresses, masked.
    assert.equal(await id('guardrail-form-detector-type-0').inputValue(), 'email');
    assert.equal(await id('guardrail-form-detector-action-0').inputValue(), 'mask');
    await click('guardrail-form-detector-add');
    await id('guardrail-form-detector-type-1').selectOption('regex');
    await id('guardrail-form-detector-action-1').selectOption('hash');
    await id('guardrail-form-detector-label-1').fill('EMPLOYEE_ID');
    // Without its pattern the shared validation stops the save and marks the row.
    await click('guardrail-save');
    await id('field-error-detectors[1].pattern').waitFor();
    assert.equal(new URL(page.url()).pathname, '/guardrails/new', 'nothing was saved');
    await id('guardrail-form-detector-pattern-1').fill('E\\d{6}');
    await click('guardrail-form-detector-add');
    await id('guardrail-form-detector-type-2').selectOption('deny_words');
    await id('guardrail-form-detector-action-2').selectOption('block');
    await id('guardrail-form-detector-words-2').fill('project-x\ncodename falcon');
    await id('guardrail-form-on-response').selectOption('mask');
    await shot('guardrail-form');
    await click('guardrail-save');
    await savedToast();
    await atPath('/guardrails');
    const row = id('guardrail-row-pii-browser');
    for (const text of ['EMAIL → mask', 'EMPLOYEE_ID → hash', 'DENY_WORDS → block']) {
      await row.filter({ hasText: text }).waitFor();
    }
    const stored = await adminGet('/api/guardrails/pii-browser');
    assert.equal(stored.mode, 'enforce');
    assert.equal(stored.detectors[1].pattern, 'E\\d{6}');
    assert.deepEqual(stored.detectors[2].words, ['project-x', 'codename falcon']);
    assert.deepEqual(stored.on_response, { action: 'mask' });
    await shot('guardrails');
  });

  await step('the route form attaches the policy and a response cache to mock-route', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    assert.equal(await id('route-cache-enabled').isChecked(), false);
    await id('route-cache-enabled').check();
    await id('route-cache-ttl').fill('600');
    assert.equal(await id('route-cache-scope').inputValue(), 'consumer');
    await id('route-guardrails-pii-browser').check();
    assert.equal(await id('route-guardrails').getAttribute('data-selected'), 'pii-browser');
    await page.evaluate(() => document.querySelector('[data-testid="route-cache-enabled"]').closest('.card').scrollIntoView());
    await shot('route-form-cache');
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    const row = id('route-row-mock-route');
    await row.filter({ hasText: 'cache 10 min, per consumer' }).waitFor();
    await row.filter({ hasText: 'guardrails pii-browser' }).waitFor();
    const route = await adminGet('/api/routes/mock-route');
    assert.deepEqual(route.cache, { enabled: true, ttl_seconds: 600, scope: 'consumer' });
    assert.deepEqual(route.guardrails, ['pii-browser']);
    assert.equal(route.fallback?.enabled, true, 'what the form does not change is kept');
  });

  const cacheTraffic = {};
  await step('a repeated chat is answered from the cache; a deny word is refused', async () => {
    const question = 'What is the capital of France? (cache check)';
    const first = await proxyChat('mock-chat', consumerKey, question);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.header('x-switchyard-cache'), 'miss');
    proxyCalls.ok += 1;
    const again = await proxyChat('mock-chat', consumerKey, question);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.header('x-switchyard-cache'), 'hit');
    assert.equal(again.body?.choices?.[0]?.message?.content, MOCK_ANSWER);
    const blocked = await proxyChat('mock-chat', consumerKey, 'Any news on Project-X?');
    assert.equal(blocked.status, 400, blocked.text);
    assert.equal(blocked.body?.error?.code, 'content_filtered', blocked.text);
    assert.ok(!blocked.text.includes('Project-X'), 'the refusal names the detector, never the value');
    cacheTraffic.hit = again.header('x-request-id');
    cacheTraffic.blocked = blocked.header('x-request-id');
    await waitForRecords([cacheTraffic.hit, cacheTraffic.blocked]);
  });

  await step('Logs marks the cache hit, and the drawer lists the guardrail hits', async () => {
    await nav('nav-logs', '/logs');
    const hitRow = page.locator(`[data-testid="logs-row"][data-request-id="${cacheTraffic.hit}"]`);
    await hitRow.getByTestId('logs-cache-badge').waitFor();
    const hit = await expectDrawerMatchesApi(cacheTraffic.hit);
    assert.equal(hit.cache_hit, true, JSON.stringify(hit));
    assert.match(await id('log-field-cache_hit').textContent(), /^hit/);
    assert.equal((await id('log-field-cost_saved_usd').textContent()).trim(), fmtUsd(hit.cost_saved_usd));
    await closeDrawer();
    const blocked = await expectDrawerMatchesApi(cacheTraffic.blocked);
    const shown = await id('log-guardrail-hit').evaluateAll((rows) => rows.map((row) => ({ ...row.dataset })));
    assert.ok(blocked.guardrails.length > 0, `the refusal is recorded with its hits: ${JSON.stringify(blocked)}`);
    assert.deepEqual(
      shown.map((h) => [h.guardrail, h.detector, h.action, Number(h.count), h.phase]),
      blocked.guardrails.map((h) => [h.guardrail, h.detector, h.action, h.count, h.phase]),
      'the drawer lists the record\'s guardrail hits',
    );
    assert.ok(!(await id('log-drawer').textContent()).includes('Project-X'), 'no value found is ever shown');
    await id('log-guardrails').scrollIntoViewIfNeeded();
    await shot('log-drawer-guardrails');
    await closeDrawer();
  });

  await step('Configuration shows the response cache\'s stats and purges it behind a confirmation', async () => {
    await nav('nav-config', '/config');
    const stats = id('cache-stats');
    // The card shows what /api/cache answered when it loaded; Refresh asks again.
    const cardMatchesApi = async () => {
      const api = await adminGet('/api/cache');
      const shown = await stats.evaluate((element) => ({ ...element.dataset }));
      if (['entries', 'hits', 'misses'].every((k) => shown[k] === String(api[k]))) return api;
      await id('cache-refresh').click();
      return null;
    };
    const api = await until('the cache card to show /api/cache', cardMatchesApi);
    assert.ok(api.entries >= 1 && api.hits >= 1, `the cache holds the answer and counted the hit: ${JSON.stringify(api)}`);
    await id('cache-card').scrollIntoViewIfNeeded();
    await shot('cache-card');
    await click('cache-purge');
    await click('confirm-dialog-ok');
    await toast(/Removed \d+ cached answers?\./);
    await until('the cache card to show the purged cache', async () => {
      const now = await cardMatchesApi();
      return now && now.entries === 0;
    });
  });

  await step('logout, then sign in with the new password, then logout again', async () => {
    await logout();
    await login(NEW_PASSWORD);
    await atPath('/');
    await id('dashboard-metrics').waitFor();
    await logout();
    // The session is gone: the app sends a visitor of / back to the login page.
    await page.goto(`${CONSOLE_URL}/`);
    await atPath('/login');
  });

  // -------------------------------------------------------------------------------------------
  // Audit trail (issue 16): a route change made in the console is in History, rolled back from
  // there with its preview, and the proxy serves the old route again at once.

  const auditedModel = 'mock-chat-audited';
  const audit = {};
  const auditChat = async () => {
    // A new question each time, so that mock-route's response cache never answers it.
    const chat = await proxyChat('mock-chat', consumerKey, `Audit trail check ${Date.now()} ${Math.random()}`);
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.header('x-switchyard-route'), 'mock-route');
    proxyCalls.ok += 1;
    return chat;
  };

  await step('audit: sign in again and edit mock-route\'s upstream model in its form', async () => {
    await login(NEW_PASSWORD);
    await atPath('/');
    audit.oldModel = (await auditChat()).header('x-switchyard-model');
    assert.ok(audit.oldModel, 'the proxy names the upstream model it called');
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    await until('the form of mock-route', async () => (await inputValueOf('route-name')) === 'mock-route');
    // The route was last changed in this browser session, before the password change.
    await id('last-changed').filter({ hasText: `Last changed by console:${USERNAME}` }).waitFor();
    audit.formModel = await inputValueOf('route-upstream-model-0');
    await id('route-upstream-model-0').fill(auditedModel);
    await click('route-save');
    await savedToast();
    await atPath('/routes');
    const chat = await auditChat();
    assert.equal(chat.header('x-switchyard-model'), auditedModel, 'the edit is live on the proxy');
  });

  await step('audit: History lists the edit by the console user, and its diff shows the model', async () => {
    const { entries } = await adminGet('/api/audit?resource=route/mock-route&limit=1');
    const edit = entries[0];
    assert.equal(edit.actor, `console:${USERNAME}`, JSON.stringify(edit));
    audit.revision = edit.revision;
    await nav('nav-history', '/history');
    await dismissToasts();
    const entry = id(`history-entry-${edit.revision}`);
    await entry.waitFor();
    assert.equal(await entry.getAttribute('data-actor'), `console:${USERNAME}`);
    await click(`history-toggle-${edit.revision}`);
    const line = id(`history-detail-${edit.revision}`).getByTestId('diff-line').filter({ hasText: auditedModel });
    await line.waitFor();
    assert.match(await line.getAttribute('data-path'), /\/model$/, 'the diff names the changed value by its JSON pointer');
    assert.equal(await line.getByTestId('diff-after').count(), 1, 'the new value is shown as the after side');
    await shot('history');
  });

  await step('audit: roll back to before the edit, with the preview; the proxy serves the old model', async () => {
    await click(`history-undo-${audit.revision}`);
    const dialog = page.getByRole('dialog', { name: `Roll back to before revision ${audit.revision}?` });
    await dialog.waitFor();
    await id('rollback-preview').locator('.diff-update').filter({ hasText: 'mock-route' }).waitFor();
    assert.equal(await id('rollback-unrecoverable').count(), 0, 'nothing is lost by undoing a route edit');
    await shot('history-rollback-preview');
    await click('rollback-confirm');
    await savedToast(/Rolled back to revision \d+ \(now revision \d+\)\. Saved — live on the gateway \(snapshot v\d+\)/);
    await dialog.waitFor({ state: 'detached' });
    const { entries } = await adminGet('/api/audit?limit=1');
    const rollback = entries[0];
    assert.equal(rollback.action, 'rollback', JSON.stringify(rollback));
    assert.equal(rollback.rolled_back_to, audit.revision - 1, JSON.stringify(rollback));
    assert.equal(rollback.actor, `console:${USERNAME}`, JSON.stringify(rollback));
    audit.rollback = rollback.revision;
    // The page reloads its list: the rollback is on top, marked as the new current revision.
    await id(`history-entry-${rollback.revision}`).getByTestId('history-current').waitFor();
    const chat = await auditChat();
    assert.equal(chat.header('x-switchyard-model'), audit.oldModel, 'the rollback is live on the proxy at once');
    const route = await adminGet('/api/routes/mock-route');
    assert.equal(route.upstreams[0].model ?? '', audit.formModel, 'the route is what it was before the edit');
  });

  await step('audit: the route\'s page says who rolled it back, and links to its history', async () => {
    await nav('nav-routes', '/routes');
    await click('route-edit-mock-route');
    await atPath('/routes/mock-route');
    const line = id('last-changed');
    await line.filter({ hasText: `a rollback to revision ${audit.revision - 1}` }).waitFor();
    assert.equal(await line.getAttribute('data-actor'), `console:${USERNAME}`);
    assert.equal(await line.getAttribute('data-revision'), String(audit.rollback));
    assert.equal(await inputValueOf('route-upstream-model-0'), audit.formModel, 'the form shows the old model');
    await shot('route-last-changed');
    await click('last-changed-history');
    await page.waitForURL((url) => url.pathname === '/history' && url.searchParams.get('resource') === 'route/mock-route');
    await id(`history-entry-${audit.rollback}`).waitFor();
    await id(`history-entry-${audit.revision}`).waitFor();
    assert.equal(await id('history-filter-kind').inputValue(), 'route');
    assert.equal(await id('history-filter-name').inputValue(), 'mock-route');
    await logout();
  });
}

let failure = null;
try {
  await scenario();
} catch (error) {
  failure = error;
  console.error(`\n✗ step failed: ${error.step ?? '(setup)'}\n${error.stack ?? error}`);
  console.error(`  page: ${page.url()}`);
  try {
    const file = path.join(SCREENSHOT_DIR, 'failure.png');
    await page.screenshot({ path: file, fullPage: true });
    console.error(`  screenshot of the failure: ${file}`);
  } catch (shotError) {
    console.error(`  (no failure screenshot: ${shotError.message})`);
  }
} finally {
  await context.close();
  await browser.close();
}

soft(browserProblems.length === 0, `the browser reported problems:\n    ${browserProblems.join('\n    ')}`);

log('\nTimings:');
for (const [name, ms] of timings) log(`  ${String(ms).padStart(6)} ms  ${name}`);
log(`  total ${elapsed(started)}`);
const files = (await readdir(SCREENSHOT_DIR)).sort();
log(`\nScreenshots in ${SCREENSHOT_DIR}:\n  ${files.join('\n  ')}`);
if (!failure && README_SCREENSHOT) log(`README screenshot: ${README_SCREENSHOT}`);

if (softFailures.length > 0) {
  console.error(`\n${softFailures.length} check(s) failed without stopping the scenario:`);
  for (const { message, count } of softFailures) {
    console.error(`  - ${message}${count > 1 ? ` (${count} times)` : ''}`);
  }
}
process.exit(failure || softFailures.length > 0 ? 1 : 0);
