// Browser run for attachments and invite links: playwright-core drives Debian's Chromium against a
// real `flowly serve` (the same server as e2e.mjs; `npm run test:browser` runs both).
//
//   FLOWLY_E2E_URL=http://127.0.0.1:18090/ node web/browser/files.mjs
//
// Ann and Bob share a room (set up over the API). Ann attaches an image with the composer's file
// picker and a text file by dropping it; Bob sees the thumbnail live, opens the full image and
// downloads the text file as a member, and Carl, who is not in the room, gets 404 for both. Ann
// pastes a screenshot into a task's attachments and Bob finds it on the task. Ann
// makes an invite link in the room's members panel; Dora, who has no account, opens it, signs up
// on the invite page and lands in the room. A brand-new user's home screen says what to do
// first. Screenshots at 1280 and 360 px wide go to web/browser/screenshots/. Exits non-zero on the
// first failure.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.FLOWLY_E2E_URL;
const EXECUTABLE = process.env.FLOWLY_E2E_CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 120_000;
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 360, height: 740 };

if (!BASE) {
  console.error('files e2e: set FLOWLY_E2E_URL to a running `flowly serve`, e.g. http://127.0.0.1:18090/');
  process.exit(2);
}

const suffix = Date.now().toString(36).slice(-6);
const person = (name, password) => ({ username: `${name}${suffix}`, display: `${name[0].toUpperCase()}${name.slice(1)} ${suffix}`, password });
const ANN = person('ann', 'copper kettles hum beside 9 quiet wolves');
const BOB = person('bob', 'seven amber herons drift past 4 old mills');
const CARL = person('carl', 'nine velvet lanterns glow over 3 ferries');
const DORA = person('dora', 'twelve paper kites climb above 5 orchards');
const ROOM = `Files ${suffix}`;

let currentStep = 'start';
const t0 = Date.now();
async function step(name, fn) {
  currentStep = name;
  const start = Date.now();
  await fn();
  console.log(`  ok  ${String(Date.now() - start).padStart(5)} ms  ${name}`);
}

const consoleErrors = [];
/** Console errors that are the point of a step (the outsider's 404s). */
let expected = [];
function watch(page, who) {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !expected.some((re) => re.test(msg.text()))) consoleErrors.push(`${who} [${currentStep}]: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${who} [${currentStep}] uncaught: ${err.message}`));
}

/** Screenshots `page` at 1280 and at 360 px wide, as `<name>-1280.png` and `<name>-360.png`. */
async function shots(page, name, ready) {
  for (const size of [WIDE, NARROW]) {
    await page.setViewportSize(size);
    if (ready) await ready();
    await page.screenshot({ path: join(SHOTS, `${name}-${size.width}.png`) });
    console.log(`      screenshot ${name}-${size.width}.png`);
  }
  await page.setViewportSize(WIDE);
}

function fail(msg) {
  throw new Error(msg);
}

// ----------------------------------------------------------------- the API, for the setup only

async function csrf(ctx) {
  return (await ctx.cookies(BASE)).find((c) => c.name === 'flowly_csrf')?.value ?? '';
}

async function call(ctx, method, path, data) {
  const res = await ctx.request.fetch(new URL(`/api/v1/${path}`, BASE).href, {
    method,
    data,
    headers: { 'x-csrf-token': await csrf(ctx), origin: new URL(BASE).origin },
    timeout: STEP_TIMEOUT,
  });
  const body = await res.json().catch(() => null);
  if (!res.ok()) fail(`${method} ${path}: ${res.status()} ${JSON.stringify(body)}`);
  return body;
}

/** A browser context with a registered, logged-in user (the session cookie is the context's). */
async function userContext(browser, user) {
  const ctx = await browser.newContext({ viewport: WIDE });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  const session = await call(ctx, 'POST', 'auth/register', { username: user.username, display_name: user.display, password: user.password });
  return { ctx, id: session.user.id };
}

/** A PNG drawn by the browser itself: 800×500, a gradient and a label. */
async function makePng(page) {
  const data = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 800;
    canvas.height = 500;
    const g = canvas.getContext('2d');
    const fill = g.createLinearGradient(0, 0, 800, 500);
    fill.addColorStop(0, '#2f5bd3');
    fill.addColorStop(1, '#1f8a4c');
    g.fillStyle = fill;
    g.fillRect(0, 0, 800, 500);
    g.fillStyle = '#fff';
    g.font = 'bold 64px sans-serif';
    g.fillText('Launch mockup', 150, 270);
    return canvas.toDataURL('image/png').split(',')[1];
  });
  return Buffer.from(data, 'base64');
}

/** Drops a text file on the composer, as dragging one from the desktop does. */
async function dropTextFile(page, name, text) {
  await page.locator('form.composer').evaluate(
    (form, [fileName, content]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([content], fileName, { type: 'text/plain' }));
      form.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      form.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    [name, text],
  );
}

const messageIn = (page, text) => page.locator('article.msg').filter({ hasText: text });

async function openRoom(page, name) {
  await page.goto(BASE);
  await page.getByRole('navigation', { name: 'Rooms and navigation' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

// ----------------------------------------------------------------- the run

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const overall = setTimeout(() => {
    console.error(`files e2e: FAILED — the run took over ${RUN_TIMEOUT / 1000} s (during: ${currentStep})`);
    browser.close().finally(() => process.exit(1));
  }, RUN_TIMEOUT);
  try {
    let ann, bob, carl, annPage, bobPage, carlPage, roomId;
    await step('setup: ann and bob share a room; carl is on his own', async () => {
      ann = await userContext(browser, ANN);
      bob = await userContext(browser, BOB);
      carl = await userContext(browser, CARL);
      const request = await call(ann.ctx, 'POST', 'friends/requests', { user_id: bob.id });
      await call(bob.ctx, 'POST', `friends/requests/${request.request.id}/accept`, {});
      roomId = (await call(ann.ctx, 'POST', 'rooms', { name: ROOM, topic: 'Attachments and invites', members: [bob.id] })).id;
      annPage = await ann.ctx.newPage();
      bobPage = await bob.ctx.newPage();
      carlPage = await carl.ctx.newPage();
      watch(annPage, 'ann');
      watch(bobPage, 'bob');
      watch(carlPage, 'carl');
    });

    await step("a brand-new user's home says what to do first", async () => {
      await carlPage.goto(BASE);
      const welcome = carlPage.getByRole('region', { name: 'Get your team in here' });
      await welcome.waitFor();
      await welcome.getByRole('button', { name: 'Create a room' }).waitFor();
      await shots(carlPage, 'getting-started');
    });

    const caption = `The launch mockup ${suffix}`;
    const notes = `release-notes-${suffix}.txt`;
    let imageId = '';
    let fileId = '';
    await step('ann attaches an image with the picker and drops a text file; bob sees the thumbnail live', async () => {
      await openRoom(annPage, ROOM);
      await openRoom(bobPage, ROOM);
      const png = await makePng(annPage);
      await annPage.getByLabel('Attach files').setInputFiles({ name: 'mockup.png', mimeType: 'image/png', buffer: png });
      await dropTextFile(annPage, notes, 'Release notes: attachments and invite links.');
      const chips = annPage.getByRole('list', { name: 'Attached files' });
      await chips.getByText('mockup.png').waitFor();
      await chips.locator('li.done').nth(1).waitFor();
      const box = annPage.getByRole('combobox', { name: 'Message' });
      await box.fill(caption);
      await box.press('Enter');
      await chips.waitFor({ state: 'detached' });
      const sent = messageIn(bobPage, caption);
      const thumb = sent.getByRole('img', { name: 'mockup.png' });
      await thumb.waitFor();
      const width = await thumb.evaluate((img) => img.decode().then(() => img.naturalWidth));
      if (width !== 320) fail(`the thumbnail is ${width} px wide, expected 320`);
      imageId = (await sent.locator('a.attachment-image').getAttribute('href')).split('/').pop();
      fileId = (await sent.getByRole('link', { name: new RegExp(notes) }).getAttribute('href')).split('/').pop();
      await messageIn(annPage, caption).getByRole('img', { name: 'mockup.png' }).waitFor();
      await shots(bobPage, 'attachments-room', () => thumb.scrollIntoViewIfNeeded());
    });

    await step('bob opens the full image and downloads the text file as a member', async () => {
      const [full] = await Promise.all([
        bobPage.context().waitForEvent('page'),
        messageIn(bobPage, caption).locator('a.attachment-image').click(),
      ]);
      await full.waitForLoadState();
      if (!full.url().endsWith(`/api/v1/attachments/${imageId}`)) fail(`the image opened ${full.url()}`);
      const shown = await full.evaluate(() => document.images[0]?.naturalWidth ?? 0);
      if (shown !== 800) fail(`the full image is ${shown} px wide in its tab, expected 800`);
      await full.close();
      const [download] = await Promise.all([
        bobPage.waitForEvent('download'),
        messageIn(bobPage, caption).getByRole('link', { name: new RegExp(notes) }).click(),
      ]);
      if (download.suggestedFilename() !== notes) fail(`the download is named ${download.suggestedFilename()}, expected ${notes}`);
      const text = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
      if (!text.startsWith('Release notes')) fail(`the downloaded file holds "${text}"`);
      const headers = await bobPage.evaluate(async (id) => {
        const r = await fetch(`/api/v1/attachments/${id}`);
        return { status: r.status, type: r.headers.get('content-type'), nosniff: r.headers.get('x-content-type-options'), disposition: r.headers.get('content-disposition') };
      }, fileId);
      if (headers.status !== 200 || headers.type !== 'text/plain' || headers.nosniff !== 'nosniff' || !headers.disposition.startsWith('attachment;')) {
        fail(`bob's download of the text file: ${JSON.stringify(headers)}`);
      }
    });

    await step('carl, not in the room, gets 404 for the image, its thumbnail and the file', async () => {
      expected = [/status of 404/];
      for (const path of [`attachments/${imageId}`, `attachments/${imageId}/thumbnail`, `attachments/${fileId}`]) {
        const res = await carlPage.goto(new URL(`/api/v1/${path}`, BASE).href);
        const body = await res.json().catch(() => null);
        if (res.status() !== 404 || body?.error?.code !== 'attachment_not_found') fail(`carl got ${res.status()} ${JSON.stringify(body)} for ${path}`);
      }
      expected = [];
    });

    await step("ann pastes a screenshot into a task's attachments; bob finds it on the task", async () => {
      const task = await call(ann.ctx, 'POST', 'tasks', { room_id: roomId, title: `Polish the mockup ${suffix}` });
      await annPage.goto(new URL(`#/t/${task.id}`, BASE).href);
      const files = annPage.getByRole('region', { name: 'Attachments' });
      await files.getByText('No files yet.').waitFor();
      const png = (await makePng(annPage)).toString('base64');
      await files.evaluate((section, data) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'screenshot.png', { type: 'image/png' }));
        section.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
      }, png);
      await files.getByRole('img', { name: 'screenshot.png' }).waitFor();
      await bobPage.goto(new URL(`#/t/${task.id}`, BASE).href);
      const bobs = bobPage.getByRole('region', { name: 'Attachments' });
      await bobs.getByRole('img', { name: 'screenshot.png' }).waitFor();
      await shots(bobPage, 'task-attachments', () => bobs.scrollIntoViewIfNeeded());
      await openRoom(annPage, ROOM);
    });

    let link = '';
    await step('ann makes a single-use invite link in the members panel', async () => {
      await annPage.getByRole('button', { name: /^Members and settings/ }).click();
      const panel = annPage.getByRole('region', { name: 'Invite links' });
      await panel.getByLabel('Uses').selectOption('1');
      await panel.getByRole('button', { name: 'Create link' }).click();
      link = await panel.getByLabel('New invite link').inputValue();
      if (!link.includes('/#/invite/')) fail(`the invite link is "${link}"`);
      await panel.getByText('0 of 1 used').waitFor();
      await shots(annPage, 'invite-links');
    });

    await step('dora, with no account, opens the link, signs up on the invite page and lands in the room', async () => {
      const doraCtx = await browser.newContext({ viewport: WIDE });
      doraCtx.setDefaultTimeout(STEP_TIMEOUT);
      const dora = await doraCtx.newPage();
      watch(dora, 'dora');
      await dora.goto(link);
      await dora.getByRole('heading', { name: `Join ${ROOM}` }).waitFor();
      await dora.getByText(`${ANN.display} invited you.`).waitFor();
      await shots(dora, 'invite-page');
      await dora.getByLabel('Username').fill(DORA.username);
      await dora.getByLabel('Display name').fill(DORA.display);
      await dora.getByLabel('Password').fill(DORA.password);
      await dora.getByRole('button', { name: 'Create account and join' }).click();
      await dora.getByRole('heading', { level: 1, name: ROOM }).waitFor();
      await messageIn(dora, caption).getByRole('img', { name: 'mockup.png' }).waitFor();
      await shots(dora, 'invite-joined');
      await annPage.locator('.msg-system').filter({ hasText: `${DORA.display} joined through an invite link` }).waitFor();
      await doraCtx.close();
    });

    await step('the spent link says so to the next person', async () => {
      expected = [/status of 410/];
      const eveCtx = await browser.newContext({ viewport: WIDE });
      const eve = await eveCtx.newPage();
      watch(eve, 'eve');
      await eve.goto(link);
      await eve.getByRole('heading', { name: 'This invite cannot be used' }).waitFor();
      await eve.getByRole('alert').filter({ hasText: 'used as often as it allows' }).waitFor();
      await shots(eve, 'invite-used-up');
      await eveCtx.close();
      expected = [];
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
    console.log(`files e2e: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
    process.exit(0);
  },
  (err) => {
    console.error(`files e2e: FAILED during "${currentStep}": ${err?.message ?? err}`);
    process.exit(1);
  },
);
