// Pure: keep the room list (badges, last message, order) current from stream events.
import type { Frame, Message, Room } from '../api/types';
import { mentionsIn } from '../tasks/prefill';

export function mentionsUser(body: string, username: string): boolean {
  return mentionsIn(body).includes(username.toLowerCase());
}

/**
 * Apply one durable event to the room list. REST's `last_seq` tells what the list already
 * counts, so an event at or below it (a replay after a reload) changes nothing.
 */
export function applyToRooms(list: Room[], frame: Frame, meId: string, meUsername: string): Room[] {
  if (typeof frame.seq !== 'number' || !frame.room) return list;
  const i = list.findIndex((r) => r.id === frame.room);
  if (i < 0) return list;
  const room = list[i];
  if (frame.seq <= room.last_seq) return list;
  const next: Room = { ...room, last_seq: frame.seq };
  const msg = frame.data?.message as Message | undefined;
  let bump = false;
  if (frame.type !== 'message.edited' && frame.type !== 'message.deleted' && msg && !msg.task_id && msg.seq === frame.seq) {
    next.last_message = {
      id: msg.id, seq: msg.seq, kind: msg.kind, body: msg.body, author_id: msg.author_id ?? null,
      author_display_name: msg.author_display_name ?? null, created_at: msg.created_at,
    };
    next.updated_at = msg.created_at;
    bump = true;
    if (msg.author_id === meId) {
      // Sending a message moves our own read marker to it.
      if (msg.kind === 'user') {
        next.last_read_seq = Math.max(next.last_read_seq, msg.seq);
        next.unread_count = 0;
        next.unread_mentions = 0;
      }
    } else if (msg.kind === 'user') {
      next.unread_count += 1;
      if (mentionsUser(msg.body, meUsername)) next.unread_mentions += 1;
    }
  }
  const out = list.slice();
  if (bump) {
    out.splice(i, 1);
    out.unshift(next);
  } else out[i] = next;
  return out;
}

/** Our read marker moved (read.updated for us, or our own read). */
export function markRead(list: Room[], roomId: string, seq: number): Room[] {
  return list.map((r) => {
    if (r.id !== roomId || seq <= r.last_read_seq) return r;
    const all = seq >= r.last_seq;
    return { ...r, last_read_seq: seq, unread_count: all ? 0 : r.unread_count, unread_mentions: all ? 0 : r.unread_mentions };
  });
}

export function roomLabel(r: Room): string {
  if (r.kind === 'self') return 'Personal';
  return r.name || r.dm_username || 'Untitled';
}

/** Sidebar groups: group rooms and the personal room, then DMs; each keeps the list's order. */
export function groupRooms(list: Room[]): { groups: Room[]; dms: Room[] } {
  return {
    groups: list.filter((r) => r.kind !== 'dm'),
    dms: list.filter((r) => r.kind === 'dm'),
  };
}
