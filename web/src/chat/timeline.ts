// Pure: one room's loaded window of its timeline, and how stream events change it.
// The window holds at most a few hundred messages, sorted by seq. It may be detached from the
// live end (hasNewer) after the user scrolled far back or jumped to a search hit; live messages
// are then not added (the user gets them when paging forward or jumping to the latest).

import type { Frame, Message, MessagePage, Reaction, StreamMessage, StreamReaction } from '../api/types';

export interface Timeline {
  messages: Message[];
  hasOlder: boolean;
  hasNewer: boolean;
}

export const EMPTY: Timeline = { messages: [], hasOlder: true, hasNewer: false };

/** Reactions as the REST API gives them: `me` instead of the list of users that frames carry. */
export function normaliseReactions(reactions: (Reaction | StreamReaction)[] | undefined, me: string): Reaction[] {
  return (reactions ?? []).map((r) =>
    'users' in r ? { emoji: r.emoji, count: r.count, me: r.users.includes(me) } : { emoji: r.emoji, count: r.count, me: r.me },
  );
}

/** A message from REST or from a frame, with its reactions as REST gives them. */
export function normaliseMessage(m: Message | StreamMessage, me: string): Message {
  return { ...m, reactions: normaliseReactions(m.reactions, me) };
}

/** Merge messages by id (later wins), sorted by seq; drops task-discussion messages unless asked. */
export function merge(a: Message[], b: Message[], discussion = false): Message[] {
  const byId = new Map<string, Message>();
  for (const m of a) byId.set(m.id, m);
  for (const m of b) if (discussion || !m.task_id) byId.set(m.id, m);
  return [...byId.values()].sort((x, y) => x.seq - y.seq);
}

/** The newest page (no cursor), or a page around a point (`detached`: newer messages exist). */
export function fromPage(page: MessagePage, me: string, detached = false): Timeline {
  return {
    messages: merge([], page.messages.map((m) => normaliseMessage(m, me))),
    hasOlder: page.has_more,
    hasNewer: detached,
  };
}

export function withOlder(tl: Timeline, page: MessagePage, me: string): Timeline {
  return { ...tl, messages: merge(tl.messages, page.messages.map((m) => normaliseMessage(m, me))), hasOlder: page.has_more };
}

export function withNewer(tl: Timeline, page: MessagePage, me: string): Timeline {
  return { ...tl, messages: merge(tl.messages, page.messages.map((m) => normaliseMessage(m, me))), hasNewer: page.has_more };
}

/** Keep at most `max` messages, dropping from the end away from where the user is reading. */
export function trim(tl: Timeline, max: number, keep: 'top' | 'bottom'): Timeline {
  if (tl.messages.length <= max) return tl;
  return keep === 'bottom'
    ? { ...tl, messages: tl.messages.slice(tl.messages.length - max), hasOlder: true }
    : { ...tl, messages: tl.messages.slice(0, max), hasNewer: true };
}

function replace(tl: Timeline, id: string, fn: (m: Message) => Message): Timeline {
  const i = tl.messages.findIndex((m) => m.id === id);
  if (i < 0) return tl;
  const messages = tl.messages.slice();
  messages[i] = fn(messages[i]);
  return { ...tl, messages };
}

export function applyReaction(m: Message, emoji: string, userId: string, me: string, added: boolean): Message {
  const reactions = m.reactions.map((r) => ({ ...r }));
  const i = reactions.findIndex((r) => r.emoji === emoji);
  const mine = userId === me;
  if (added) {
    if (i < 0) reactions.push({ emoji, count: 1, me: mine });
    else {
      if (mine && reactions[i].me) return m; // already counted (our own toggle answered first)
      reactions[i].count += 1;
      if (mine) reactions[i].me = true;
    }
  } else {
    if (i < 0) return m;
    if (mine && !reactions[i].me) return m;
    reactions[i].count -= 1;
    if (mine) reactions[i].me = false;
    if (reactions[i].count <= 0) reactions.splice(i, 1);
  }
  return { ...m, reactions };
}

/** Apply one durable room event (already checked for order) to the room's window. */
export function applyFrame(tl: Timeline, frame: Frame, me: string): Timeline {
  const data = frame.data ?? {};
  switch (frame.type) {
    case 'message.edited':
    case 'message.deleted': {
      const msg = normaliseMessage(data.message as StreamMessage, me);
      return replace(tl, msg.id, (old) => ({ ...msg, reply_count: Math.max(msg.reply_count, old.reply_count) }));
    }
    case 'reaction.added':
    case 'reaction.removed':
      return replace(tl, data.message_id, (m) => applyReaction(m, data.emoji, data.user_id, me, frame.type === 'reaction.added'));
    default: {
      const msg = data.message as StreamMessage | undefined;
      if (!msg || msg.task_id || tl.hasNewer) return tl;
      if (tl.messages.some((m) => m.id === msg.id)) return tl;
      let next: Timeline = { ...tl, messages: merge(tl.messages, [normaliseMessage(msg, me)]) };
      if (msg.reply_to) next = replace(next, msg.reply_to, (p) => ({ ...p, reply_count: p.reply_count + 1 }));
      return next;
    }
  }
}

export function lastSeq(tl: Timeline): number {
  return tl.messages.length ? tl.messages[tl.messages.length - 1].seq : 0;
}

export function firstSeq(tl: Timeline): number {
  return tl.messages.length ? tl.messages[0].seq : 0;
}
