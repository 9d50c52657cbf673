// Browser run of the client's flow: playwright-core drives Debian's Chromium against a real
// `flowly serve` (no worker needed).
//
//   FLOWLY_E2E_URL=http://127.0.0.1:18090/ node web/browser/flow.mjs
//
// A new user sees what to do first; a draft survives a room switch and a reload; Ctrl+K opens the
// quick switcher and Enter switches room; the emoji picker searches and inserts (by keyboard); Up-arrow edits
// the last message; a deleted message comes back with Undo for both users, and one not undone (or
// whose page is reloaded during the undo window) is deleted for both; a thread opens in a panel beside the room (the whole screen at 360 px, with a
// back button); a room with many unread messages opens at the first unread and offers to jump
// back to it; a confirm dialog keeps Tab inside and gives focus back on Escape. Screenshots at 1280
// and 360 px wide go to web/browser/screenshots/flow-*.png. Exits non-zero on the first failure.
import {
  BASE, consoleErrors, fail, launch, messageIn, newContext, openRoom, reload, send, shot, signUp, step, suffix, watch, watchdog, finish,
} from './harness.mjs';

const RUN_TIMEOUT = 180_000;
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 360, height: 740 };
const ANN = { username: `fann${suffix}`, display: `Ann ${suffix}`, password: 'copper kettles hum beside 9 quiet wolves' };
const BOB = { username: `fbob${suffix}`, display: `Bob ${suffix}`, password: 'seven amber herons drift past 4 old mills' };
const ROOM_A = `Atlas ${suffix}`;
const ROOM_B = `Borealis ${suffix}`;

/** A REST call as the user of `ctx` (its session cookie and CSRF token). */
async function call(ctx, method, path, data) {
  const csrf = (await ctx.cookies(BASE)).find((c) => c.name === 'flowly_csrf')?.value;
  const res = await ctx.request.fetch(new URL(`/api/v1/${path}`, BASE).href, {
    method,
    headers: { 'x-csrf-token': csrf ?? '', origin: new URL(BASE).origin },
    data,
  });
  if (!res.ok()) await fail(`${method} ${path}: ${res.status()} ${await res.text()}`);
  return res.status() === 204 ? null : res.json();
}

/** Screenshots of the page as it is, at 1280 and at 360 px wide (back to 1280 after). */
async function shots(page, name) {
  await page.setViewportSize(WIDE);
  await shot(page, `flow-${name}-1280`);
  await page.setViewportSize(NARROW);
  await shot(page, `flow-${name}-360`);
  await page.setViewportSize(WIDE);
}

const composer = (page) => page.locator('.chat').getByRole('combobox', { name: 'Message' });

async function messageMenu(page, text, item) {
  const msg = messageIn(page, text);
  await msg.hover();
  await msg.getByRole('button', { name: 'Message actions' }).click();
  await msg.getByRole('menuitem', { name: item }).click();
}

async function main() {
  const browser = await launch();
  const overall = watchdog(browser, RUN_TIMEOUT);
  try {
    const annCtx = await newContext(browser, { viewport: WIDE });
    const bobCtx = await newContext(browser, { viewport: WIDE });
    const ann = await annCtx.newPage();
    const bob = await bobCtx.newPage();
    watch(ann, 'ann');
    watch(bob, 'bob');

    await step('a new user sees what to do first', async () => {
      await signUp(ann, ANN);
      await ann.getByRole('heading', { level: 1, name: /Welcome to Flowly/ }).waitFor();
      await ann.getByRole('link', { name: 'Find friends' }).first().waitFor();
      await ann.getByRole('button', { name: 'Create a room' }).waitFor();
      await shots(ann, 'welcome');
    });

    let rooms;
    await step('ann and bob become friends and share two rooms', async () => {
      await signUp(bob, BOB);
      const bobMe = await call(bobCtx, 'GET', 'me');
      const asked = await call(annCtx, 'POST', 'friends/requests', { username: BOB.username });
      await call(bobCtx, 'POST', `friends/requests/${asked.request.id}/accept`);
      rooms = {
        a: await call(annCtx, 'POST', 'rooms', { name: ROOM_A, topic: 'Drafts and undo', members: [bobMe.id] }),
        b: await call(annCtx, 'POST', 'rooms', { name: ROOM_B, topic: 'Unread messages', members: [bobMe.id] }),
      };
      // Ann's open page learns of the rooms from the stream: the welcome gives way to the rooms.
      await ann.getByRole('navigation', { name: 'Rooms and navigation' }).getByRole('link', { name: ROOM_B }).waitFor();
      await openRoom(ann, ROOM_A);
      await openRoom(bob, ROOM_A);
    });

    const draft = `A thought half written ${suffix}`;
    await step('a draft survives a room switch and a reload', async () => {
      await composer(ann).fill(draft);
      await openRoom(ann, ROOM_B);
      if ((await composer(ann).inputValue()) !== '') await fail('the draft of one room shows in another');
      await openRoom(ann, ROOM_A);
      if ((await composer(ann).inputValue()) !== draft) await fail('the draft was lost on a room switch');
      await reload(ann);
      await ann.getByRole('heading', { level: 1, name: ROOM_A }).waitFor();
      await composer(ann).waitFor();
      if ((await composer(ann).inputValue()) !== draft) await fail('the draft was lost on a reload');
      await shots(ann, 'draft');
      await composer(ann).press('Enter');
      await messageIn(bob, draft).waitFor();
      if ((await composer(ann).inputValue()) !== '') await fail('sending left the draft in the composer');
      await reload(ann);
      await composer(ann).waitFor();
      if ((await composer(ann).inputValue()) !== '') await fail('a sent draft came back after a reload');
    });

    await step('Ctrl+K opens the quick switcher; Enter switches room', async () => {
      await ann.keyboard.press('Control+k');
      const dialog = ann.getByRole('dialog', { name: 'Quick switcher' });
      const input = dialog.getByRole('combobox', { name: 'Go to a room, person or task' });
      await input.waitFor();
      await input.pressSequentially('brls');
      await dialog.getByRole('option', { name: new RegExp(ROOM_B), selected: true }).waitFor();
      await shots(ann, 'quick-switcher');
      await input.press('Enter');
      await ann.getByRole('heading', { level: 1, name: ROOM_B }).waitFor();
      await dialog.waitFor({ state: 'detached' });
      await ann.keyboard.press('Control+k');
      await input.pressSequentially('atls');
      await input.press('ArrowDown');
      await input.press('ArrowUp');
      await dialog.getByRole('option', { name: new RegExp(ROOM_A), selected: true }).waitFor();
      await input.press('Enter');
      await ann.getByRole('heading', { level: 1, name: ROOM_A }).waitFor();
      // Without a keyboard: the sidebar's button; Escape closes.
      await ann.getByRole('button', { name: /Jump to/ }).click();
      await input.waitFor();
      await ann.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    });

    await step('the emoji picker searches the full set and inserts at the caret', async () => {
      await ann.getByRole('button', { name: 'Insert emoji' }).click();
      const picker = ann.getByRole('dialog', { name: 'Emoji picker' });
      await picker.getByRole('group', { name: 'Flags' }).waitFor(); // the lazily loaded set is there
      await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('rocket');
      await picker.getByRole('button', { name: 'rocket', exact: true }).waitFor();
      await shots(ann, 'emoji-picker');
      // By keyboard: down into the results, along the row and back, Enter picks.
      await picker.getByRole('searchbox', { name: 'Search emoji' }).press('ArrowDown');
      await ann.keyboard.press('ArrowRight');
      await ann.keyboard.press('ArrowLeft');
      const focused = await ann.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      if (focused !== 'rocket') await fail(`the arrow keys left focus on "${focused}", not the first hit`);
      await ann.keyboard.press('Enter');
      await picker.waitFor({ state: 'detached' });
      if ((await composer(ann).inputValue()) !== '🚀') await fail('the picked emoji is not in the composer');
      await composer(ann).fill('');
    });

    const typo = `Lets ship on Thursdya ${suffix}`;
    const fixed = `Let's ship on Thursday ${suffix}`;
    await step('Up-arrow in an empty composer edits the last message', async () => {
      await send(ann, typo);
      await messageIn(bob, typo).waitFor();
      await composer(ann).press('ArrowUp');
      const editor = ann.getByRole('textbox', { name: 'Edit message' });
      await editor.waitFor();
      if ((await editor.inputValue()) !== typo) await fail('Up-arrow did not open the last message for editing');
      await editor.fill(fixed);
      await editor.press('Enter');
      await messageIn(ann, fixed).filter({ hasText: '(edited)' }).waitFor();
      await messageIn(bob, fixed).waitFor();
    });

    const keep = `Keep this one ${suffix}`;
    const drop = `Drop this one ${suffix}`;
    await step('a deleted message comes back with Undo, for both users', async () => {
      await send(ann, keep);
      await messageIn(bob, keep).waitFor();
      await messageMenu(ann, keep, 'Delete');
      const toast = ann.getByRole('status').filter({ hasText: 'Message deleted' });
      await toast.getByRole('button', { name: 'Undo' }).waitFor();
      await messageIn(ann, keep).waitFor({ state: 'detached' });
      await shot(ann, 'flow-undo-toast-1280'); // one shot only: Undo must come within the 6 s
      await toast.getByRole('button', { name: 'Undo' }).click();
      await messageIn(ann, keep).waitFor();
      await messageIn(bob, keep).waitFor();
    });

    await step('a delete not undone reaches the other user; the undone one never does', async () => {
      await send(ann, drop);
      await messageIn(bob, drop).waitFor();
      await messageMenu(ann, drop, 'Delete');
      await ann.setViewportSize(NARROW);
      await shot(ann, 'flow-undo-toast-360');
      await ann.setViewportSize(WIDE);
      // The delete is sent when the undo window closes; bob then sees the tombstone.
      await bob.locator('article.msg .tombstone').waitFor({ timeout: 20_000 });
      if ((await messageIn(bob, drop).count()) !== 0) await fail('bob still sees the deleted message');
      await messageIn(ann, drop).waitFor({ state: 'detached' });
      // The undone delete would have been sent before this one: it never was.
      const page = await call(annCtx, 'GET', `rooms/${rooms.a.id}/messages?limit=20`);
      const kept = page.messages.find((m) => m.body === keep);
      if (!kept || kept.deleted_at) await fail('the undone delete reached the server');
      await messageIn(bob, keep).waitFor();
    });

    await step('reloading during the undo window sends the delete', async () => {
      const gone = `Gone with the reload ${suffix}`;
      await send(ann, gone);
      await messageIn(bob, gone).waitFor();
      await messageMenu(ann, gone, 'Delete');
      await ann.getByRole('status').filter({ hasText: 'Message deleted' }).waitFor();
      await reload(ann);
      await messageIn(bob, gone).waitFor({ state: 'detached' }); // bob's page shows it deleted
      await ann.getByRole('heading', { level: 1, name: ROOM_A }).waitFor();
      await messageIn(ann, fixed).waitFor();
      if (await messageIn(ann, gone).count()) await fail('the message deleted before the reload is back');
    });

    await step('a thread opens in a panel beside the room; at 360 px it takes the screen', async () => {
      await messageMenu(bob, fixed, 'Reply');
      await send(bob, `Thursday works for me ${suffix}`);
      const open = messageIn(ann, fixed).getByRole('button', { name: '1 reply' });
      await open.click();
      const panel = ann.getByRole('complementary', { name: 'Thread' });
      await panel.getByText(`Thursday works for me ${suffix}`).waitFor();
      // The room stays in view beside it (it was a modal before).
      await messageIn(ann, keep).waitFor();
      if (await ann.getByRole('dialog').count()) await fail('the thread opened as a dialog');
      await panel.getByRole('combobox', { name: 'Message' }).fill(`Draft in the thread ${suffix}`);
      await ann.setViewportSize(WIDE);
      await shot(ann, 'flow-thread-1280');
      await ann.setViewportSize(NARROW);
      const back = panel.getByRole('button', { name: /Back to/ });
      await back.waitFor();
      await shot(ann, 'flow-thread-360');
      await back.click();
      await panel.waitFor({ state: 'detached' });
      await ann.setViewportSize(WIDE);
      if ((await composer(ann).inputValue()) !== '') await fail("the thread's draft leaked into the room's composer");
      await open.click();
      const box = panel.getByRole('combobox', { name: 'Message' });
      if ((await box.inputValue()) !== `Draft in the thread ${suffix}`) await fail("the thread's draft was lost");
      await box.fill('');
      await panel.getByRole('button', { name: 'Close thread' }).click();
    });

    await step('a room with many unread messages opens at the first unread, with a bar to jump back', async () => {
      const first = `Unread number 1 ${suffix}`;
      for (let i = 1; i <= 70; i++) {
        await call(bobCtx, 'POST', `rooms/${rooms.b.id}/messages`, { body: `Unread number ${i} ${suffix}`, client_id: `flow-${suffix}-${i}` });
      }
      // A fresh page: the room's window is not cached, so the first unread must be fetched.
      await reload(ann);
      await ann.getByRole('heading', { level: 1, name: ROOM_A }).waitFor();
      await ann.getByRole('navigation', { name: 'Rooms and navigation' }).getByRole('link', { name: new RegExp(ROOM_B) }).click();
      await ann.getByRole('heading', { level: 1, name: ROOM_B }).waitFor();
      await ann.getByRole('separator').filter({ hasText: 'New messages' }).waitFor();
      await messageIn(ann, first).waitFor();
      if (!(await messageIn(ann, first).isVisible())) await fail('the room did not open at the first unread');
      await ann.getByRole('button', { name: 'Jump to latest ↓' }).click();
      await messageIn(ann, `Unread number 70 ${suffix}`).waitFor();
      const bar = ann.getByRole('region', { name: 'Unread messages' });
      await bar.getByRole('button', { name: /70 new messages/ }).waitFor();
      await shots(ann, 'unread-bar');
      await bar.getByRole('button', { name: /70 new messages/ }).click();
      await messageIn(ann, first).waitFor();
      await ann.getByRole('separator').filter({ hasText: 'New messages' }).waitFor();
      await bar.waitFor({ state: 'detached' });
    });

    await step('a confirm dialog keeps Tab inside and gives focus back on Escape', async () => {
      await openRoom(ann, ROOM_A);
      await ann.getByRole('button', { name: /Members and settings/ }).click();
      const settings = ann.getByRole('dialog', { name: `${ROOM_A} — members` });
      const leave = settings.getByRole('button', { name: 'Leave room' });
      await leave.click();
      const confirm = ann.getByRole('alertdialog', { name: `Leave ${ROOM_A}?` });
      await confirm.waitFor();
      await shots(ann, 'confirm');
      const focused = () => ann.evaluate(() => document.activeElement?.textContent?.trim());
      if ((await focused()) !== 'Cancel') await fail('a destructive confirm does not start on Cancel');
      for (const want of ['Leave', 'Cancel', 'Leave']) {
        await ann.keyboard.press('Tab');
        if ((await focused()) !== want) await fail(`Tab left the confirm dialog (focus on "${await focused()}")`);
      }
      await ann.keyboard.press('Escape');
      await confirm.waitFor({ state: 'detached' });
      if ((await focused()) !== 'Leave room') await fail('focus did not go back to the button that opened the dialog');
      await ann.keyboard.press('Escape');
      await settings.waitFor({ state: 'detached' });
      await ann.getByRole('heading', { level: 1, name: ROOM_A }).waitFor(); // still a member
    });

    await step('no console errors', async () => {
      if (consoleErrors.length) await fail(`console errors:\n  ${consoleErrors.join('\n  ')}`);
    });
  } finally {
    clearTimeout(overall);
    await browser.close().catch(() => undefined);
  }
}

finish(main());
