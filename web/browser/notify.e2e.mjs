// Browser end-to-end run for rich text and notifications: playwright-core drives Debian's Chromium
// against a real `flowly serve` (the same one as e2e.mjs).
//
//   FLOWLY_E2E_URL=http://127.0.0.1:18090/ node web/browser/notify.e2e.mjs
//
// Ann and Bob (set up over the REST API: accounts, friendship, a group room) log in through the
// UI. Ann sends Markdown with a <script> and an <img onerror> in it: it renders formatted, the
// HTML stays text and runs nothing. Bob, whose browser context was granted the notification
// permission, is on another screen: Ann's @mention raises a desktop notification (the page's
// Notification constructor is wrapped to record what it shows; the real one is still called), and
// clicking it opens the room. Bob mutes the room: the next mention raises nothing, a DM still does.
// Screenshots at 1280 and 360 px wide go to web/browser/screenshots/. Exits non-zero on failure.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.FLOWLY_E2E_URL;
const EXECUTABLE = process.env.FLOWLY_E2E_CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 120_000;
const WIDTHS = [1280, 360];

if (!BASE) {
  console.error('notify e2e: set FLOWLY_E2E_URL to a running `flowly serve`');
  process.exit(2);
}

const suffix = Date.now().toString(36).slice(-6);
const ANN = { username: `nann${suffix}`, display: `Ann ${suffix}`, password: 'copper kettles hum beside 9 quiet wolves' };
const BOB = { username: `nbob${suffix}`, display: `Bob ${suffix}`, password: 'seven amber herons drift past 4 old mills' };
const ROOM = `Notes ${suffix}`;

let currentStep = 'start';
const t0 = Date.now();
async function step(name, fn) {
  currentStep = name;
  const start = Date.now();
  await fn();
  console.log(`  ok  ${String(Date.now() - start).padStart(5)} ms  ${name}`);
}

function fail(msg) {
  throw new Error(msg);
}

// Playwright's contexts are incognito, where Chromium has no push service: subscribing fails with
// this error (the page then keeps to desktop notifications). A real profile does not print it.
const EXPECTED = [/does not support the Push API in incognito mode/];
const consoleErrors = [];
function watch(page, who) {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !EXPECTED.some((re) => re.test(msg.text()))) consoleErrors.push(`${who} [${currentStep}]: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${who} [${currentStep}] uncaught: ${err.message}`));
}

/** Screenshots of `page` at each width, back at the first width afterwards. */
async function shots(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width > 600 ? 800 : 740 });
    await page.waitForTimeout(150); // one layout pass after the resize
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`) });
    console.log(`      screenshot ${name}-${width}.png`);
  }
  await page.setViewportSize({ width: WIDTHS[0], height: 800 });
}

/** A JSON request as a tool would make it (bearer token). */
async function api(method, path, token, body) {
  const res = await fetch(new URL(`/api/v1/${path}`, BASE), {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function register(user) {
  const res = await api('POST', 'auth/register', null, { username: user.username, display_name: user.display, password: user.password });
  return { ...user, id: res.user.id, token: res.token };
}

async function logIn(page, user) {
  await page.goto(new URL('#/login', BASE).href);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('.side-head .conn-live').waitFor();
}

async function openRoom(page, name) {
  await page.getByRole('navigation', { name: 'Rooms and navigation' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

async function send(page, text) {
  const box = page.getByRole('combobox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/** Records every notification the page constructs (title, body, the object), then calls the real API. */
function recordNotifications() {
  const Real = window.Notification;
  window.__notifications = [];
  class Recording extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push({ title, body: options?.body ?? '', n: this });
    }
  }
  Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
  Recording.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recording;
}

const notifications = (page) => page.evaluate(() => window.__notifications.map(({ title, body }) => ({ title, body })));

async function waitForNotification(page, hasBody) {
  await page.waitForFunction((text) => window.__notifications.some((n) => n.body.includes(text)), hasBody, { timeout: STEP_TIMEOUT });
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: ['--no-sandbox'] });
  const overall = setTimeout(() => {
    console.error(`notify e2e: the whole run took longer than ${RUN_TIMEOUT} ms (at "${currentStep}")`);
    process.exit(1);
  }, RUN_TIMEOUT);
  try {
    let ann;
    let bob;
    let roomId;
    await step('ann and bob have accounts, are friends and share a room (REST)', async () => {
      ann = await register(ANN);
      bob = await register(BOB);
      const asked = await api('POST', 'friends/requests', ann.token, { username: bob.username });
      await api('POST', `friends/requests/${asked.request.id}/accept`, bob.token);
      roomId = (await api('POST', 'rooms', ann.token, { name: ROOM, members: [bob.id] })).id;
    });

    const annCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await bobCtx.grantPermissions(['notifications'], { origin: new URL(BASE).origin });
    await bobCtx.addInitScript(recordNotifications);
    for (const ctx of [annCtx, bobCtx]) ctx.setDefaultTimeout(STEP_TIMEOUT);
    const annPage = await annCtx.newPage();
    const bobPage = await bobCtx.newPage();
    watch(annPage, 'ann');
    watch(bobPage, 'bob');
    await annPage.addInitScript(() => (window.__xss = 0));

    await step('both log in; bob stays on his tasks, away from the room', async () => {
      await logIn(annPage, ann);
      await logIn(bobPage, bob);
      await bobPage.getByRole('link', { name: 'My tasks', exact: true }).click();
      const bell = bobPage.locator('.notify-bell.on');
      await bell.waitFor();
    });

    const task = (await api('POST', 'tasks', ann.token, { room_id: roomId, title: `Ship the notes ${suffix}` })).id;
    const markdown = [
      `**Release** notes for @${bob.username}: see _the plan_ and #${task}`,
      '- first `item`',
      '- second, https://example.com/docs',
      '',
      '> quoted <script>window.__xss = 1</script>',
      '',
      '<img src=x onerror="window.__xss = 2">',
      '',
      '```js',
      'const answer = 42; // <b>not bold</b>',
      '```',
    ].join('\n');

    await step('ann sends Markdown: it renders, and the HTML in it stays text', async () => {
      await openRoom(annPage, ROOM);
      await send(annPage, markdown);
      const msg = annPage.locator('article.msg').filter({ hasText: 'Release' });
      await msg.locator('strong', { hasText: 'Release' }).waitFor();
      await msg.locator('em', { hasText: 'the plan' }).waitFor();
      if ((await msg.locator('ul > li').count()) !== 2) fail('the list did not render as two items');
      await msg.locator('li code', { hasText: 'item' }).waitFor();
      await msg.locator('blockquote').waitFor();
      const link = msg.locator('a[href="https://example.com/docs"]');
      if ((await link.getAttribute('rel')) !== 'noopener noreferrer' || (await link.getAttribute('target')) !== '_blank') fail('an external link lacks rel/target');
      if ((await msg.locator(`a.mention[href="#/u/${bob.username}"]`).count()) !== 1) fail('the mention does not link to bob');
      if ((await msg.locator(`a.task-ref[href="#/t/${task}"]`).count()) !== 1) fail('the task reference does not link to the task');
      if ((await msg.locator('script, img, b').count()) !== 0) fail('raw HTML became elements');
      const text = await msg.textContent();
      for (const raw of ['<script>window.__xss = 1</script>', '<img src=x onerror="window.__xss = 2">', '<b>not bold</b>']) {
        if (!text.includes(raw)) fail(`"${raw}" is not shown as text`);
      }
      // The highlighter's chunk loads on first use and colours the block.
      await msg.locator('pre code span.hljs-keyword', { hasText: 'const' }).waitFor();
      if ((await annPage.evaluate(() => window.__xss)) !== 0) fail('a script in a message ran');
      await shots(annPage, 'markdown');
    });

    await step('the mention raised a desktop notification for bob; clicking it opens the room', async () => {
      await waitForNotification(bobPage, 'Release');
      const [first] = await notifications(bobPage);
      if (first.title !== `${ANN.display} in ${ROOM}`) fail(`notification title "${first.title}"`);
      await bobPage.evaluate(() => window.__notifications[0].n.onclick());
      await bobPage.getByRole('heading', { level: 1, name: ROOM }).waitFor();
      await bobPage.locator('article.msg strong', { hasText: 'Release' }).waitFor();
    });

    await step('bob mutes the room: a mention raises nothing, a DM still does', async () => {
      await bobPage.getByRole('button', { name: /Members and settings/ }).click();
      // A click, not check(): the box follows the server's answer, not the click.
      await bobPage.getByRole('checkbox', { name: /Mute this room/ }).click();
      await bobPage.getByRole('checkbox', { name: /Mute this room/, checked: true }).waitFor();
      await bobPage.locator('.room-link .muted-mark').waitFor();
      await shots(bobPage, 'room-settings-mute');
      await bobPage.keyboard.press('Escape');
      await bobPage.getByRole('link', { name: 'My tasks', exact: true }).click();
      const before = (await notifications(bobPage)).length;
      await api('POST', `rooms/${roomId}/messages`, ann.token, { body: `@${bob.username} muted ping ${suffix}` });
      const dm = (await api('POST', 'dms', ann.token, { user_id: bob.id })).id;
      await api('POST', `rooms/${dm}/messages`, ann.token, { body: `a direct word ${suffix}` });
      await waitForNotification(bobPage, 'a direct word');
      const after = (await notifications(bobPage)).slice(before);
      if (after.some((n) => n.body.includes('muted ping'))) fail('a muted room raised a notification');
      if (after.length !== 1 || after[0].title !== ANN.display) fail(`unexpected notifications ${JSON.stringify(after)}`);
      await shots(bobPage, 'sidebar-muted');
    });

    await step('no console errors', async () => {
      if (consoleErrors.length) fail(`console errors:\n  ${consoleErrors.join('\n  ')}`);
    });
  } finally {
    clearTimeout(overall);
    await browser.close().catch(() => undefined);
  }
}

main().then(
  () => {
    console.log(`notify e2e: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
    process.exit(0);
  },
  (err) => {
    console.error(`notify e2e: FAILED during "${currentStep}": ${err?.message ?? err}`);
    process.exit(1);
  },
);
