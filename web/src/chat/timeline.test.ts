import { describe, expect, it } from 'vitest';
import type { Message, StreamMessage } from '../api/types';
import { applyFrame, fromPage, trim, withOlder, lastSeq } from './timeline';

const ME = 'me';
const m = (seq: number, over: Partial<Message> = {}): Message => ({
  id: 'm' + seq, room_id: 'r', seq, author_id: 'bob', kind: 'user', body: 'b' + seq, created_at: 't',
  reactions: [], reply_count: 0, ...over,
});

describe('timeline', () => {
  it('pages backwards and keeps seq order without duplicates', () => {
    let tl = fromPage({ messages: [m(5), m(7)], has_more: true }, ME);
    tl = withOlder(tl, { messages: [m(2), m(5)], has_more: false }, ME);
    expect(tl.messages.map((x) => x.seq)).toEqual([2, 5, 7]);
    expect(tl.hasOlder).toBe(false);
  });

  it('adds live messages at the live end only', () => {
    const tl = fromPage({ messages: [m(1)], has_more: false }, ME);
    const frame = { type: 'message.created', room: 'r', seq: 2, data: { message: m(2) } };
    expect(lastSeq(applyFrame(tl, frame, ME))).toBe(2);
    const detached = { ...tl, hasNewer: true };
    expect(applyFrame(detached, frame, ME)).toBe(detached);
  });

  it('keeps task discussion messages out', () => {
    const tl = fromPage({ messages: [m(1)], has_more: false }, ME);
    const frame = { type: 'message.created', room: 'r', seq: 2, data: { message: m(2, { task_id: 't' }) } };
    expect(applyFrame(tl, frame, ME).messages).toHaveLength(1);
  });

  it('counts replies once', () => {
    let tl = fromPage({ messages: [m(1)], has_more: false }, ME);
    const frame = { type: 'message.created', room: 'r', seq: 2, data: { message: m(2, { reply_to: 'm1' }) } };
    tl = applyFrame(tl, frame, ME);
    tl = applyFrame(tl, frame, ME);
    expect(tl.messages[0].reply_count).toBe(1);
  });

  it('applies edits and deletions as tombstones', () => {
    let tl = fromPage({ messages: [m(1)], has_more: false }, ME);
    tl = applyFrame(tl, { type: 'message.edited', room: 'r', seq: 2, data: { message: m(1, { body: 'new', edited_at: 'x' }) } }, ME);
    expect(tl.messages[0].body).toBe('new');
    tl = applyFrame(tl, { type: 'message.deleted', room: 'r', seq: 3, data: { message: m(1, { body: '', deleted_at: 'y' }) } }, ME);
    expect(tl.messages[0]).toMatchObject({ body: '', deleted_at: 'y' });
  });

  it('counts reactions, with `me` from the user list or our own id', () => {
    let tl = fromPage({ messages: [m(1)], has_more: false }, ME);
    const add = (user: string) => ({ type: 'reaction.added', room: 'r', seq: 9, data: { message_id: 'm1', emoji: '👍', user_id: user } });
    tl = applyFrame(tl, add('bob'), ME);
    tl = applyFrame(tl, add(ME), ME);
    expect(tl.messages[0].reactions).toEqual([{ emoji: '👍', count: 2, me: true }]);
    tl = applyFrame(tl, add(ME), ME); // our optimistic toggle already counted it
    expect(tl.messages[0].reactions[0].count).toBe(2);
    tl = applyFrame(tl, { type: 'reaction.removed', room: 'r', seq: 10, data: { message_id: 'm1', emoji: '👍', user_id: 'bob' } }, ME);
    tl = applyFrame(tl, { type: 'reaction.removed', room: 'r', seq: 11, data: { message_id: 'm1', emoji: '👍', user_id: ME } }, ME);
    expect(tl.messages[0].reactions).toEqual([]);
    const edited: StreamMessage = { ...m(1), reactions: [{ emoji: '🎉', count: 1, users: [ME] }] };
    tl = applyFrame(tl, { type: 'message.edited', room: 'r', seq: 12, data: { message: edited } }, ME);
    expect(tl.messages[0].reactions).toEqual([{ emoji: '🎉', count: 1, me: true }]);
  });

  it('trims the far end of the window', () => {
    const tl = fromPage({ messages: [m(1), m(2), m(3), m(4)], has_more: false }, ME);
    const bottom = trim(tl, 2, 'bottom');
    expect(bottom.messages.map((x) => x.seq)).toEqual([3, 4]);
    expect(bottom.hasOlder).toBe(true);
    const top = trim(tl, 2, 'top');
    expect(top.messages.map((x) => x.seq)).toEqual([1, 2]);
    expect(top.hasNewer).toBe(true);
  });
});
