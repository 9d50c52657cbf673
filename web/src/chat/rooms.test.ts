import { describe, expect, it } from 'vitest';
import type { Message, Room } from '../api/types';
import { applyToRooms, groupRooms, markRead, roomLabel } from './rooms';

const room = (id: string, over: Partial<Room> = {}): Room => ({
  id, kind: 'group', name: id, topic: '', role: 'member', member_count: 2, last_seq: 10, last_read_seq: 10,
  unread_count: 0, unread_mentions: 0, muted: false, created_at: '', updated_at: '', ...over,
});
const created = (roomId: string, seq: number, over: Partial<Message> = {}) => ({
  type: 'message.created', room: roomId, seq,
  data: { message: { id: 'm' + seq, room_id: roomId, seq, author_id: 'bob', kind: 'user', body: 'hi', created_at: 't', reactions: [], reply_count: 0, ...over } },
});

describe('room list', () => {
  it('counts unread and mentions from others, and moves the room to the top', () => {
    let list = [room('a'), room('b')];
    list = applyToRooms(list, created('b', 11, { body: 'hey @Ann' }), 'me', 'ann');
    expect(list.map((r) => r.id)).toEqual(['b', 'a']);
    expect(list[0]).toMatchObject({ last_seq: 11, unread_count: 1, unread_mentions: 1 });
    expect(list[0].last_message?.body).toBe('hey @Ann');
  });

  it('ignores events the list already counts (replay after reload)', () => {
    const list = [room('a')];
    expect(applyToRooms(list, created('a', 10), 'me', 'ann')).toBe(list);
  });

  it('does not count our own, system or task discussion messages', () => {
    let list = [room('a', { unread_count: 3 })];
    list = applyToRooms(list, created('a', 11, { author_id: 'me' }), 'me', 'ann');
    expect(list[0]).toMatchObject({ unread_count: 0, last_read_seq: 11 });
    list = applyToRooms(list, created('a', 12, { kind: 'system' }), 'me', 'ann');
    list = applyToRooms(list, created('a', 13, { task_id: 't' }), 'me', 'ann');
    expect(list[0]).toMatchObject({ unread_count: 0, last_seq: 13 });
  });

  it('edits and reactions move last_seq only', () => {
    const list = [room('a')];
    const next = applyToRooms(list, { type: 'reaction.added', room: 'a', seq: 11, data: {} }, 'me', 'ann');
    expect(next[0]).toMatchObject({ last_seq: 11, unread_count: 0 });
  });

  it('marks read', () => {
    const list = [room('a', { last_seq: 20, last_read_seq: 10, unread_count: 4, unread_mentions: 1 })];
    expect(markRead(list, 'a', 15)[0]).toMatchObject({ last_read_seq: 15, unread_count: 4 });
    expect(markRead(list, 'a', 20)[0]).toMatchObject({ last_read_seq: 20, unread_count: 0, unread_mentions: 0 });
    expect(markRead(list, 'a', 5)).toEqual(list);
  });

  it('names and groups rooms', () => {
    const dm = room('d', { kind: 'dm', name: 'Bob Stone', dm_username: 'bob' });
    const self = room('s', { kind: 'self', name: 'Personal' });
    expect(roomLabel(dm)).toBe('Bob Stone');
    expect(roomLabel(self)).toBe('Personal');
    expect(groupRooms([dm, room('g'), self])).toEqual({ groups: [room('g'), self], dms: [dm] });
  });
});
