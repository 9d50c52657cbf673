// Pure: messages the user sent that the server has not confirmed yet (optimistic send).
// Each has a client_id chosen here; a retry reuses it, so the server never makes a duplicate.
// A pending entry goes away when its message arrives (message.created with our client_id, or the
// REST answer); an `ack` only records the id, because the full message follows on the stream.

import type { Message } from '../api/types';

export type PendingState = 'sending' | 'acked' | 'failed';

export interface Pending {
  client_id: string;
  room_id: string;
  task_id: string | null;
  body: string;
  reply_to: string | null;
  state: PendingState;
  error: string | null;
  message_id: string | null;
  created_at: string;
  /** When the last attempt was made (ms since epoch), to time out a silent socket. */
  sent_at: number;
}

let counter = 0;

export function newClientId(random: () => number = Math.random): string {
  counter = (counter + 1) % 1_000_000;
  const rand = Math.floor(random() * 36 ** 8).toString(36).padStart(8, '0');
  return `w-${Date.now().toString(36)}-${rand}-${counter.toString(36)}`;
}

export function add(
  list: Pending[],
  p: { client_id: string; room_id: string; task_id?: string | null; body: string; reply_to?: string | null },
  now: number = Date.now(),
): Pending[] {
  if (list.some((x) => x.client_id === p.client_id)) return list;
  return [
    ...list,
    {
      client_id: p.client_id,
      room_id: p.room_id,
      task_id: p.task_id ?? null,
      body: p.body,
      reply_to: p.reply_to ?? null,
      state: 'sending',
      error: null,
      message_id: null,
      created_at: new Date(now).toISOString(),
      sent_at: now,
    },
  ];
}

function update(list: Pending[], clientId: string, fn: (p: Pending) => Pending): Pending[] {
  let changed = false;
  const next = list.map((p) => {
    if (p.client_id !== clientId) return p;
    changed = true;
    return fn(p);
  });
  return changed ? next : list;
}

export function acked(list: Pending[], clientId: string, messageId: string): Pending[] {
  return update(list, clientId, (p) => ({ ...p, state: 'acked', error: null, message_id: messageId }));
}

export function failed(list: Pending[], clientId: string, error: string): Pending[] {
  return update(list, clientId, (p) => (p.state === 'acked' ? p : { ...p, state: 'failed', error }));
}

/** Retry: back to sending, same client_id. */
export function retrying(list: Pending[], clientId: string, now: number = Date.now()): Pending[] {
  return update(list, clientId, (p) => ({ ...p, state: 'sending', error: null, sent_at: now }));
}

export function discard(list: Pending[], clientId: string): Pending[] {
  return list.filter((p) => p.client_id !== clientId);
}

/** A message arrived (stream or REST): drop the pending entry it answers. */
export function reconcile(list: Pending[], message: Message, me: string): Pending[] {
  if (message.author_id !== me) return list;
  const next = list.filter(
    (p) => !((message.client_id && p.client_id === message.client_id && p.room_id === message.room_id) || p.message_id === message.id),
  );
  return next.length === list.length ? list : next;
}

/** Entries still waiting to be (re)sent, e.g. after the socket resumed. */
export function toResend(list: Pending[]): Pending[] {
  return list.filter((p) => p.state === 'sending');
}

/** Entries sent more than `timeoutMs` ago without an answer become failed (the user may retry). */
export function expire(list: Pending[], now: number, timeoutMs: number): Pending[] {
  let changed = false;
  const next = list.map((p) => {
    if (p.state === 'sending' && now - p.sent_at > timeoutMs) {
      changed = true;
      return { ...p, state: 'failed' as const, error: 'Not confirmed by the server yet.' };
    }
    return p;
  });
  return changed ? next : list;
}

/** Pending entries to show in a conversation: not yet visible as real messages. */
export function visible(list: Pending[], roomId: string, taskId: string | null, messages: Message[]): Pending[] {
  const shown = new Set(messages.map((m) => m.client_id).filter(Boolean));
  const ids = new Set(messages.map((m) => m.id));
  return list.filter(
    (p) => p.room_id === roomId && p.task_id === taskId && !shown.has(p.client_id) && !(p.message_id && ids.has(p.message_id)),
  );
}
