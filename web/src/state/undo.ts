// Deleting a message with a few seconds to take it back. The DELETE request waits until the undo
// window ends, so an undone delete never reaches the server and no one else ever sees the message
// go. Meanwhile the message is hidden on this page only. If the page is closed or reloaded during
// the window, the delete the user asked for is sent then (a keepalive request on `pagehide`);
// logging out sends them first too.
import { signal } from '@preact/signals';
import { buildUrl, getCsrfToken } from '../api/client';
import { api } from '../api/endpoints';
import { describeError } from '../api/errors';
import type { Message } from '../api/types';
import { toast } from './store';

export const UNDO_MS = 6000;

/** Messages deleted on this page whose undo window is still open: hidden, not yet deleted. */
export const deleting = signal<ReadonlySet<string>>(new Set());

const timers = new Map<string, ReturnType<typeof setTimeout>>();

function setDeleting(id: string, on: boolean): void {
  const next = new Set(deleting.value);
  if (on) next.add(id);
  else next.delete(id);
  deleting.value = next;
}

/** Hides `m` at once and deletes it after UNDO_MS unless the toast's Undo is pressed. */
export function deleteWithUndo(m: Message, onDeleted: (m: Message) => void): void {
  if (timers.has(m.id)) return;
  setDeleting(m.id, true);
  timers.set(m.id, setTimeout(() => void commit(m.id, onDeleted), UNDO_MS));
  toast('Message deleted', 'info', UNDO_MS, { label: 'Undo', run: () => undoDelete(m.id) });
}

export function undoDelete(id: string): void {
  const t = timers.get(id);
  if (!t) return;
  clearTimeout(t);
  timers.delete(id);
  setDeleting(id, false);
}

async function commit(id: string, onDeleted: (m: Message) => void): Promise<void> {
  timers.delete(id);
  try {
    onDeleted(await api.deleteMessage(id));
  } catch (e) {
    toast(`The message was not deleted: ${describeError(e)}`, 'error');
  } finally {
    setDeleting(id, false);
  }
}

/**
 * Sends the deletes still waiting, now (the page is going away, or the user logs out). A
 * keepalive fetch is finished by the browser even after the page is gone.
 */
export function sendPendingDeletes(): Promise<unknown> {
  const token = getCsrfToken();
  const sent = [...timers].map(([id, t]) => {
    clearTimeout(t);
    return fetch(buildUrl(`messages/${id}`), {
      method: 'DELETE',
      keepalive: true,
      credentials: 'same-origin',
      headers: token ? { 'x-csrf-token': token } : {},
    }).catch(() => undefined);
  });
  timers.clear();
  deleting.value = new Set(); // if the page comes back (back/forward cache), it shows what the server says
  return Promise.all(sent);
}

if (typeof window !== 'undefined') window.addEventListener('pagehide', () => void sendPendingDeletes());
