// What the browser runs (e2e.mjs, flow.mjs) share: the browser, named steps, console watching,
// screenshots, and the screens as a person uses them. Each run is one process, so the step name
// and the expected console errors are this module's state.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = process.env.FLOWLY_E2E_URL;
const EXECUTABLE = process.env.FLOWLY_E2E_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
export const STEP_TIMEOUT = 15_000; // any single wait

if (!BASE) {
  console.error('e2e: set FLOWLY_E2E_URL to a running `flowly serve`, e.g. http://127.0.0.1:18090/');
  process.exit(2);
}

export const suffix = Date.now().toString(36).slice(-6);
const t0 = Date.now();

let currentStep = 'start';

export async function step(name, fn) {
  currentStep = name;
  const start = Date.now();
  await fn();
  console.log(`  ok  ${String(Date.now() - start).padStart(5)} ms  ${name}`);
}

/** What console errors are expected right now (e.g. the 401 of a deliberately bad login). */
let expected = [];
export function expectConsole(patterns) {
  expected = patterns;
}
export const consoleErrors = [];

/** The requests each watched page has in flight, and since when: printed when a run fails. */
const inFlight = new Map();

export function watch(page, who) {
  const pending = new Map();
  inFlight.set(who, pending);
  page.on('request', (req) => pending.set(req, Date.now()));
  page.on('requestfinished', (req) => pending.delete(req));
  page.on('requestfailed', (req) => pending.delete(req));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (expected.some((re) => re.test(text))) return;
    consoleErrors.push(`${who} [${currentStep}]: ${text}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${who} [${currentStep}] uncaught: ${err.message}`));
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  console.log(`      screenshot ${name}.png`);
}

/** The app's connection status in the sidebar ("● Live", "● Connecting…", "● Offline, …"). */
export const connStatus = (page) => page.locator('.side-head .conn');
export const waitLive = (page, timeout = STEP_TIMEOUT) =>
  page.locator('.side-head .conn-live').waitFor({ state: 'visible', timeout });

/** A message in the open room's timeline, by its text. */
export const messageIn = (page, text) => page.locator('article.msg').filter({ hasText: text });

export async function fail(msg) {
  throw new Error(msg);
}

/** Debian's Chromium, headless unless FLOWLY_E2E_HEADED=1. */
export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: !process.env.FLOWLY_E2E_HEADED,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ].filter((a) => a !== '--headless' || !process.env.FLOWLY_E2E_HEADED),
  });
}

/** Ends the whole run (non-zero) if it takes over `ms`; clear the returned timer when done. */
export function watchdog(browser, ms) {
  return setTimeout(() => {
    console.error(`e2e: FAILED — the run took over ${ms / 1000} s (during: ${currentStep})`);
    browser.close().finally(() => process.exit(1));
  }, ms);
}

/** Exits 0 when the run passes, 1 naming the step when it fails. */
export function finish(run, note = '') {
  run.then(
    () => {
      console.log(`e2e: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s${note ? '; ' + note : ''}`);
      process.exit(0);
    },
    (err) => {
      console.error(`e2e: FAILED during "${currentStep}": ${err?.message ?? err}`);
      for (const [who, pending] of inFlight) {
        for (const [req, since] of pending) {
          console.error(`  ${who}'s page: ${req.method()} ${req.url()} in flight for ${Date.now() - since} ms`);
        }
      }
      process.exit(1);
    },
  );
}

/** A browser context whose every wait is bounded by STEP_TIMEOUT. */
export async function newContext(browser, options) {
  const ctx = await browser.newContext(options);
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  ctx.setDefaultNavigationTimeout(STEP_TIMEOUT);
  return ctx;
}

// ----------------------------------------------------------------- the screens, as a person uses them

export async function signUp(page, user) {
  await page.goto(new URL('#/signup', BASE).href);
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Display name').fill(user.display);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('navigation', { name: 'Rooms and navigation' }).waitFor();
  await waitLive(page);
}

/**
 * Reloads a page as a person presses F5, and returns once the new document has run the app's
 * script (`DOMContentLoaded`), not at `load`, which also waits for every image and late resource
 * (a CI run once timed out there: `waiting for navigation until "load"`); the caller then waits
 * for what the person would see.
 */
export async function reload(page) {
  await page.reload({ waitUntil: 'domcontentloaded' });
}

export async function openRoom(page, name) {
  await page.getByRole('navigation', { name: 'Rooms and navigation' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

export async function send(page, text) {
  const box = page.getByRole('combobox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await messageIn(page, text).waitFor();
}
