// @vitest-environment happy-dom
// End-to-end against a real `flowly serve`: the whole app rendered in happy-dom (its fetch and
// WebSocket keep cookies like a browser), a second user driven over REST with a bearer token.
// Runs only when FLOWLY_E2E_URL is set, e.g.
//   FLOWLY_E2E_URL=http://127.0.0.1:18090/ npx vitest run src/e2e
import { render } from 'preact';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const BASE = process.env.FLOWLY_E2E_URL;
const suffix = Date.now().toString(36).slice(-6);
const A = { username: `ann${suffix}`, display: 'Ann E2E', password: 'copper kettles hum beside 9 quiet wolves' };
const B = { username: `bob${suffix}`, display: 'Bob E2E', password: 'seven amber herons drift past 4 old mills' };

let bToken = '';
let aId = '';

async function asB<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL('/api/v1/' + path, BASE).href, {
    method,
    headers: { authorization: `Bearer ${bToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : (null as T);
}

/**
 * Ann reads a room up to `seq`, and her sidebar shows it read: the room then opens at its latest
 * messages rather than at the first unread.
 */
async function readAsA(roomId: string, seq: number): Promise<void> {
  const { api } = await import('../api/endpoints');
  await api.markRead(roomId, seq);
  await until(() => {
    const link = $$('.room-link').find((a) => a.getAttribute('href') === `#/r/${roomId}`);
    return link && !link.querySelector('.badge');
  });
}

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const $$ = (sel: string) => Array.from(document.querySelectorAll<HTMLElement>(sel));
const text = () => document.body.textContent ?? '';
const until = <T,>(fn: () => T, timeout = 10_000): Promise<NonNullable<T>> => {
  const where = new Error('timed out waiting for: ' + fn.toString().slice(0, 160));
  return vi
    .waitFor(
      () => {
        const v = fn();
        if (!v) throw new Error('not yet');
        return v as NonNullable<T>;
      },
      { timeout, interval: 50 },
    )
    .catch(() => {
      throw where;
    });
};

// Polls the server (an async check that throws until it holds) with the same limit as `until`:
// vi.waitFor's default of 1 s is shorter than a save takes on a busy machine.
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 10_000, interval: 100 });

const tick = () => new Promise((r) => setTimeout(r, 0));

/** Type into a field and let Preact render, as a person's keystrokes would. */
async function type(el: HTMLInputElement | HTMLTextAreaElement | null, value: string) {
  if (!el) throw new Error('no input');
  el.value = value;
  if (el.type !== 'date') el.selectionStart = el.selectionEnd = value.length;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  await tick();
}

function choose(el: HTMLSelectElement | null, value: string) {
  if (!el) throw new Error('no select');
  el.value = value;
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

function button(label: string | RegExp, root: ParentNode = document): HTMLButtonElement {
  const b = Array.from(root.querySelectorAll<HTMLButtonElement>('button')).find((x) =>
    typeof label === 'string' ? x.textContent?.trim() === label || x.getAttribute('aria-label') === label : label.test(x.textContent ?? ''),
  );
  if (!b) throw new Error(`no button ${label}`);
  return b;
}

function go(hash: string) {
  location.hash = hash;
}

describe.skipIf(!BASE)('Flowly web client against a real server', () => {
  const errors: unknown[] = [];
  let roomId = '';

  beforeAll(async () => {
    const orig = console.error;
    vi.spyOn(console, 'error').mockImplementation((...args) => {
      errors.push(args);
      orig(...args);
    });
    const reg = await fetch(new URL('/api/v1/auth/register', BASE).href, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: B.username, display_name: B.display, password: B.password }),
    });
    const body = await reg.json();
    bToken = body.token;
    // B's registration went through this window's fetch: forget the cookies it set.
    document.cookie = 'flowly_session=; Max-Age=0; Path=/';
    document.cookie = 'flowly_csrf=; Max-Age=0; Path=/';
    const root = document.createElement('div');
    root.id = 'app';
    document.body.appendChild(root);
    const { App } = await import('../ui/App');
    const { restoreSession } = await import('../state/session');
    render(<App />, root);
    await restoreSession();
  });

  afterAll(async () => {
    const { stopStream } = await import('../state/live');
    stopStream();
  });

  it('shows API errors on the login screen', async () => {
    go('#/login');
    await until(() => $('form.auth-card'));
    await type($('input[name=username]'), 'nobody-' + suffix);
    await type($('input[name=password]'), 'wrong password!');
    button('Log in').click();
    await until(() => text().includes('Wrong username or password.'));
  });

  it('signs up and shows the workspace', async () => {
    go('#/signup');
    await until(() => $('input[name=display_name]'));
    await type($('input[name=username]'), B.username);
    await type($('input[name=display_name]'), A.display);
    await type($('input[name=password]'), A.password);
    button('Sign up').click();
    await until(() => text().includes('already taken'));
    await type($('input[name=username]'), A.username);
    button('Sign up').click();
    await until(() => $('nav.sidebar'));
    await until(() => text().includes('Live'));
    const me = await (await fetch('/api/v1/me')).json();
    aId = me.id;
    expect(me.username).toBe(A.username);
  });

  it('accepts a friend request that arrives live', async () => {
    go('#/friends');
    await until(() => text().includes('Requests for you'));
    await asB('POST', 'friends/requests', { username: A.username });
    await until(() => text().includes('new friend request'));
    const row = await until(() => $$('li.row').find((li) => li.textContent?.includes(B.display)));
    button('Accept', row).click();
    await until(() => $$('li.row').some((li) => li.textContent?.includes(B.display) && li.textContent?.includes('Message')));
  });

  it('gets a room and live messages with badges', async () => {
    const room = await asB<{ id: string }>('POST', 'rooms', { name: 'Ops ' + suffix, members: [aId] });
    roomId = room.id;
    await until(() => $$('.room-link').some((a) => a.textContent?.includes('Ops ' + suffix)));
    await asB('POST', `rooms/${roomId}/messages`, { body: `Backups failed @${A.username} fix by tomorrow`, client_id: 'b-1' });
    await until(() => $$('.room-link').find((a) => a.textContent?.includes('Ops'))?.querySelector('.badge-mention'));
    go(`#/r/${roomId}`);
    await until(() => text().includes('Backups failed'));
    await until(() => !$$('.room-link').find((a) => a.textContent?.includes('Ops'))?.querySelector('.badge'));
    await asB('POST', `rooms/${roomId}/messages`, { body: 'second live message', client_id: 'b-2' });
    await until(() => text().includes('second live message'));
  });

  it('sends with optimistic UI and shows typing', async () => {
    await asB('POST', 'dms', { user_id: aId }); // warms nothing; just another room
    const { sendFrame } = await import('../state/live');
    expect(typeof sendFrame).toBe('function');
    const box = $<HTMLTextAreaElement>('.composer textarea')!;
    await type(box, 'hello from ann');
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await until(() => $$('.msg').some((m) => m.textContent?.includes('hello from ann') && !m.classList.contains('pending')));
    expect($$('.pending').length).toBe(0);
    const page = await asB<{ messages: { body: string; client_id: string }[] }>('GET', `rooms/${roomId}/messages?limit=5`);
    expect(page.messages.filter((m) => m.body === 'hello from ann')).toHaveLength(1);
  });

  it('makes a task from a message, prefilled, and sees it move live on the board', async () => {
    const msg = await until(() => $$('article.msg').find((m) => m.textContent?.includes('Backups failed')));
    button('Message actions', msg).click();
    await tick();
    button('Make task', msg).click();
    const dialog = await until(() => $('[role=dialog]'));
    const title = dialog.querySelector<HTMLInputElement>('input')!;
    expect(title.value).toBe(`Backups failed @${A.username} fix by tomorrow`);
    expect(dialog.querySelector<HTMLSelectElement>('select')!.value).toBe(aId);
    const due = dialog.querySelector<HTMLInputElement>('input[type=date]')!.value;
    const t = new Date();
    const tomorrow = new Date(t.getFullYear(), t.getMonth(), t.getDate() + 1);
    expect(due).toBe(`${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}`);
    await type(title, 'Fix the backups');
    button('Create task', dialog).click();
    await until(() => !$('[role=dialog]'));
    await until(() => text().includes('created task'));
    go(`#/r/${roomId}/board`);
    const card = await until(() => $$('.column')[0]?.querySelector('.card'));
    expect(card.textContent).toContain('Fix the backups');
    const tasks = await asB<{ id: string }[]>('GET', `tasks?room=${roomId}`);
    await asB('POST', `tasks/${tasks[0].id}/move`, { status: 'doing', after: null });
    await until(() => $$('.column')[1]?.textContent?.includes('Fix the backups'));
    // And back with the keyboard: Alt+ArrowLeft on the focused card.
    const moved = $$('.column')[1].querySelector<HTMLElement>('.card')!;
    moved.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', altKey: true, bubbles: true }));
    await until(async () => true);
    await eventually(async () => {
      const t = await asB<{ status: string }>('GET', `tasks/${tasks[0].id}`);
      if (t.status !== 'todo') throw new Error('not moved');
    });
  });

  it('resumes after the socket drops without losing messages', async () => {
    go(`#/r/${roomId}`);
    await until(() => text().includes('hello from ann'));
    const { dropSocketForTest } = await import('../state/live');
    dropSocketForTest();
    await asB('POST', `rooms/${roomId}/messages`, { body: 'sent while you were away', client_id: 'b-3' });
    await until(() => text().includes('sent while you were away'), 20_000);
    await until(() => text().includes('Live'));
    expect($$('article.msg').filter((m) => m.textContent?.includes('sent while you were away'))).toHaveLength(1);
  });

  it('reacts, replies, edits and deletes', async () => {
    go(`#/r/${roomId}`);
    const theirs = await until(() => $$('article.msg').find((m) => m.textContent?.includes('second live message')));
    button('Message actions', theirs).click();
    await tick();
    button('React…', theirs).click();
    await tick();
    button('React 👍', theirs).click();
    await until(() => theirs.querySelector('.reaction.me')?.textContent?.includes('👍 1'));
    const mine = await until(() => $$('article.msg').find((m) => m.textContent?.includes('hello from ann')));
    button('Message actions', mine).click();
    await tick();
    button('Edit', mine).click();
    await tick();
    const box = mine.querySelector<HTMLTextAreaElement>('textarea')!;
    await type(box, 'hello, edited');
    button('Save', mine).click();
    await until(() => mine.textContent?.includes('(edited)'));
    // B edits live, A sees it.
    const page = await asB<{ messages: { id: string; body: string }[] }>('GET', `rooms/${roomId}/messages?limit=20`);
    const second = page.messages.find((m) => m.body === 'second live message')!;
    await asB('PATCH', `messages/${second.id}`, { body: 'second message, edited by bob' });
    await until(() => text().includes('second message, edited by bob'));
    // Reply.
    button('Message actions', theirs).click();
    await tick();
    button('Reply', theirs).click();
    await tick();
    const composer = $<HTMLTextAreaElement>('.composer textarea')!;
    await type(composer, 'a reply from ann');
    composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    const reply = await until(() => $$('article.msg').find((m) => m.textContent?.includes('a reply from ann')));
    expect(reply.querySelector('.reply-ref')?.textContent).toContain('Bob E2E');
    // Delete our own: a tombstone stays.
    const edited = await until(() => $$('article.msg').find((m) => m.textContent?.includes('hello, edited')));
    button('Message actions', edited).click();
    await tick();
    button('Delete', edited).click();
    // Hidden at once with an Undo toast; the DELETE goes out when the 6 s undo window closes.
    await until(() => !$$('article.msg').includes(edited) && $('.toasts')?.textContent?.includes('Message deleted'));
    await until(() => text().includes('This message was deleted.'), 20_000);
  });

  it('shows typing and presence from another user', async () => {
    const wsUrl = new URL('/api/v1/ws?token=' + bToken, BASE!.replace(/^http/, 'ws')).href;
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve) => (ws.onmessage = (e) => JSON.parse(String(e.data)).type === 'hello' && resolve(null)));
    ws.send(JSON.stringify({ type: 'resume' }));
    await until(() => $$('.room-link').some((a) => a.querySelector('.dot-online')) || $$('.dot-online').length > 0);
    ws.send(JSON.stringify({ type: 'typing', room: roomId }));
    await until(() => $('.typing')?.textContent?.includes(`${B.username} is typing`));
    ws.send(JSON.stringify({ type: 'typing', room: roomId, active: false }));
    await until(() => !$('.typing')?.textContent?.includes('typing'));
    ws.close();
  });

  it('pages history in a bounded window', async () => {
    const busy = await asB<{ id: string }>('POST', 'rooms', { name: 'Busy ' + suffix, members: [aId] });
    let last = 0;
    for (let i = 1; i <= 420; i++) {
      last = (await asB<{ seq: number }>('POST', `rooms/${busy.id}/messages`, { body: `history ${i}`, client_id: `h-${i}` })).seq;
    }
    await readAsA(busy.id, last);
    go(`#/r/${busy.id}`);
    await until(() => text().includes('history 420'));
    await until(() => $$('article.msg').length >= 300);
    expect($$('article.msg').length).toBeLessThanOrEqual(300);
    expect(text()).not.toContain('history 1\n');
    const list = $('.msg-list')!;
    const bodies = () => $$('article.msg .body').map((b) => b.textContent);
    for (let i = 0; i < 20 && !bodies().includes('history 1'); i++) {
      list.scrollTop = 0;
      list.dispatchEvent(new Event('scroll'));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect($$('article.msg').some((m) => m.querySelector('.body')?.textContent === 'history 1')).toBe(true);
    expect($$('article.msg').length).toBeLessThanOrEqual(300);
    expect(text()).not.toContain('history 420');
    // Scrolling down pages forward again.
    // happy-dom has no layout: pretend the user scrolled down a little.
    Object.defineProperty(list, 'scrollTop', { configurable: true, get: () => 10, set: () => undefined });
    list.dispatchEvent(new Event('scroll'));
    await until(() => bodies().includes('history 340')).catch((e) => {
      console.log('WINDOW', bodies()[0], bodies().at(-1), bodies().length, list.scrollTop);
      throw e;
    });
    delete (list as unknown as { scrollTop?: number }).scrollTop;
    expect($$('article.msg').length).toBeLessThanOrEqual(300);
    // Back to the live end.
    button(/Jump to latest/).click();
    await until(() => text().includes('history 420'));
  });

  it('shows a "new messages" divider for what arrived while away', async () => {
    go('#/my-tasks');
    await until(() => text().includes('My tasks'));
    await asB('POST', `rooms/${roomId}/messages`, { body: 'news while ann looked at tasks', client_id: 'b-div' });
    await until(() => $$('.room-link').find((a) => a.textContent?.includes('Ops'))?.querySelector('.badge'));
    go(`#/r/${roomId}`);
    const divider = await until(() => $('.divider'));
    expect(divider.nextElementSibling?.textContent).toContain('news while ann looked at tasks');
  });

  it('edits a task in its detail view, with activity and discussion', async () => {
    const [task] = await asB<{ id: string }[]>('GET', `tasks?room=${roomId}`);
    go(`#/t/${task.id}`);
    const form = await until(() => $<HTMLFormElement>('form[aria-label="Task fields"]'));
    await until(() => form.querySelector<HTMLInputElement>('input')?.value === 'Fix the backups');
    const selects = form.querySelectorAll<HTMLSelectElement>('select');
    choose(selects[1], 'urgent');
    await tick();
    await type(form.querySelector<HTMLInputElement>('input[type=date]'), '2030-01-02');
    button('Save changes', form).click();
    await eventually(async () => {
      const t = await asB<{ priority: string; due_on: string }>('GET', `tasks/${task.id}`);
      if (t.priority !== 'urgent' || t.due_on !== '2030-01-02') throw new Error('not saved');
    });
    await until(() => text().includes('priority: normal → urgent'));
    expect(text()).toContain('Source conversation');
    const box = await until(() => $<HTMLTextAreaElement>('.composer textarea'));
    await type(box, 'on it, comment from ann');
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await eventually(async () => {
      const page = await asB<{ messages: { body: string }[] }>('GET', `tasks/${task.id}/messages`);
      if (!page.messages.some((m) => m.body === 'on it, comment from ann')) throw new Error('no comment yet');
    });
    await asB('POST', `tasks/${task.id}/messages`, { body: 'thanks from bob', client_id: 'tb-1' });
    await until(() => text().includes('thanks from bob'));
    await until(() => !$('.discussion .pending'));
  });

  it('lists my tasks by due date', async () => {
    go('#/my-tasks');
    await until(() => text().includes('Fix the backups'));
    await until(() => text().includes('Later'));
  });

  it('lists sessions on the profile page', async () => {
    go('#/profile');
    await until(() => text().includes('this device'));
  });

  it('searches messages and opens a hit in its room', async () => {
    go('#/search?q=backups');
    const hit = await until(() => $$('li.hit a').find((a) => a.textContent?.includes('Ops')));
    location.href = hit.getAttribute('href')!;
    await until(() => $('article.msg.highlight')?.textContent?.includes('Backups failed'));
  });

  // 1,000 messages by default; FLOWLY_E2E_BIG=10000 for the capacity measurement (the server needs
  // a high limits.writes_per_user_per_minute, as scripts/test.sh sets).
  const big = Number(process.env.FLOWLY_E2E_BIG ?? 1000);
  it(`opens a room with ${big} messages without loading them all`, async () => {
    const room = await asB<{ id: string }>('POST', 'rooms', { name: 'Big ' + suffix, members: [aId] });
    const t0 = Date.now();
    let last = 0;
    for (let i = 1; i <= big; i += 50) {
      const made = await Promise.all(
        Array.from({ length: Math.min(50, big - i + 1) }, (_, k) =>
          asB<{ seq: number }>('POST', `rooms/${room.id}/messages`, { body: `big ${i + k}`, client_id: `big-${i + k}` }),
        ),
      );
      last = Math.max(last, ...made.map((m) => m.seq));
    }
    console.info(`made ${big} messages in ${Date.now() - t0} ms`);
    await readAsA(room.id, last);
    const calls: string[] = [];
    const realFetch = window.fetch;
    const spy = vi.spyOn(window, 'fetch').mockImplementation((input, init) => {
      calls.push(String(input));
      return realFetch(input as RequestInfo, init);
    });
    const t1 = Date.now();
    go(`#/r/${room.id}`);
    await until(() => $$('article.msg .body').some((b) => b.textContent === `big ${big}`));
    const opened = Date.now() - t1;
    await until(() => $$('article.msg').length >= 300);
    const list = $('.msg-list')!;
    for (let i = 0; i < 10; i++) {
      list.scrollTop = 0;
      list.dispatchEvent(new Event('scroll'));
      await new Promise((r) => setTimeout(r, 100));
    }
    const pages = calls.filter((c) => c.includes(`/rooms/${room.id}/messages`)).length;
    const inDom = $$('article.msg').length;
    console.info(`opened in ${opened} ms; after 10 scrolls up: ${pages} pages of 50 fetched, ${inDom} messages in the DOM`);
    spy.mockRestore();
    expect(inDom).toBeLessThanOrEqual(300);
    expect(pages * 50).toBeLessThan(big);
  });

  it('had no console errors other than the failed requests the test provoked', () => {
    const expected = [/auth\/login 401/, /auth\/register 409/];
    const unexpected = errors.filter((e) => !expected.some((re) => re.test(String((e as unknown[])[0]))));
    expect(unexpected).toEqual([]);
  });
});
