import { describe, expect, it } from 'vitest';
import type { Frame, Message, Room } from '../api/types';
import { mentions, noticeFor, type Context } from './rules';

const ME = { id: 'u-me', username: 'ann' };

function room(id: string, kind: Room['kind'], muted = false): Room {
  return { id, kind, name: kind === 'dm' ? 'Bob' : 'Ops', muted } as Room;
}

function message(over: Partial<Message>): Message {
  return {
    id: 'm1', room_id: 'r-ops', seq: 5, author_id: 'u-bob', author_display_name: 'Bob', kind: 'user', body: 'hi',
    data: null, task_id: null, ref_task_id: null, deleted_at: null, ...over,
  } as Message;
}

function created(roomId: string, over: Partial<Message>): Frame {
  return { type: 'message.created', room: roomId, seq: 5, data: { message: message({ room_id: roomId, ...over }) } };
}

const ctx = (over: Partial<Context> = {}): Context => ({
  me: ME, rooms: [room('r-ops', 'group'), room('r-dm', 'dm'), room('r-quiet', 'group', true)], openRoom: null, hidden: true, ...over,
});

describe('desktop notification rules', () => {
  it('a mention of me notifies, with where to go', () => {
    expect(noticeFor(created('r-ops', { body: 'can you look, @Ann?' }), ctx())).toEqual({
      reason: 'mention', title: 'Bob in Ops', body: 'can you look, @Ann?', path: '/r/r-ops', tag: 'room-r-ops',
    });
  });

  it('a group message that does not mention me, or mentions someone like me, does not', () => {
    expect(noticeFor(created('r-ops', { body: 'hello all' }), ctx())).toBeNull();
    expect(noticeFor(created('r-ops', { body: 'hi @annabel' }), ctx())).toBeNull();
    expect(noticeFor(created('r-ops', { body: 'mail ann@example.com' }), ctx())).toBeNull();
  });

  it('any message in a DM notifies', () => {
    expect(noticeFor(created('r-dm', { body: 'lunch?' }), ctx())?.reason).toBe('dm');
  });

  it('my own messages, system messages and deleted ones never notify', () => {
    expect(noticeFor(created('r-dm', { author_id: ME.id }), ctx())).toBeNull();
    expect(noticeFor(created('r-dm', { kind: 'system' }), ctx())).toBeNull();
    expect(noticeFor(created('r-dm', { deleted_at: '2026-12-01T00:00:00Z' }), ctx())).toBeNull();
  });

  it('nothing notifies when I am looking at that room', () => {
    expect(noticeFor(created('r-dm', {}), ctx({ hidden: false, openRoom: 'r-dm' }))).toBeNull();
    expect(noticeFor(created('r-dm', {}), ctx({ hidden: false, openRoom: 'r-ops' }))?.reason).toBe('dm');
    expect(noticeFor(created('r-dm', {}), ctx({ hidden: true, openRoom: 'r-dm' }))?.reason).toBe('dm');
  });

  it('a muted room does not notify, mentions included', () => {
    expect(noticeFor(created('r-quiet', { body: '@ann look' }), ctx())).toBeNull();
  });

  it('a task assigned to me notifies, even in a muted room; one assigned to others does not', () => {
    const assigned = (roomId: string, event: string, changes: unknown): Frame => ({
      type: event === 'task_created' ? 'task.created' : 'task.updated', room: roomId, seq: 9,
      data: { message: message({ room_id: roomId, kind: 'system', ref_task_id: 't1', data: { event, task_id: 't1', title: 'Fix backups', changes } }) },
    });
    expect(noticeFor(assigned('r-quiet', 'task_created', { assignee_id: ME.id }), ctx())).toEqual({
      reason: 'task_assigned', title: 'Bob assigned you a task', body: 'Fix backups', path: '/t/t1', tag: 'task-t1',
    });
    expect(noticeFor(assigned('r-ops', 'task_updated', { assignee_id: { from: null, to: ME.id } }), ctx())?.reason).toBe('task_assigned');
    expect(noticeFor(assigned('r-ops', 'task_updated', { assignee_id: { from: ME.id, to: 'u-bob' } }), ctx())).toBeNull();
    expect(noticeFor(assigned('r-ops', 'task_updated', { title: { from: 'a', to: 'b' } }), ctx())).toBeNull();
  });

  it('a mention in a task discussion opens the task', () => {
    expect(noticeFor(created('r-ops', { body: '@ann?', task_id: 't7' }), ctx())?.path).toBe('/t/t7');
  });

  it('finds mentions the way the server does', () => {
    expect(mentions('@ann.', 'ann')).toBe(true);
    expect(mentions('x@ann', 'ann')).toBe(false);
    expect(mentions('(@ANN)', 'ann')).toBe(true);
  });
});
