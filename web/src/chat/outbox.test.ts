import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import * as ob from './outbox';

const ME = 'me';
const msg = (over: Partial<Message>): Message => ({
  id: 'm1', room_id: 'r', seq: 3, author_id: ME, kind: 'user', body: 'hi', created_at: 't',
  reactions: [], reply_count: 0, client_id: 'c1', ...over,
});

describe('outbox', () => {
  it('makes valid, distinct client ids', () => {
    const a = ob.newClientId();
    const b = ob.newClientId();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9\-_.:]{1,64}$/);
  });

  it('adds once per client id', () => {
    let l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'hi' }, 1000);
    l = ob.add(l, { client_id: 'c1', room_id: 'r', body: 'again' }, 2000);
    expect(l).toHaveLength(1);
    expect(l[0]).toMatchObject({ state: 'sending', body: 'hi', task_id: null, reply_to: null });
  });

  it('is replaced when the message.created with our client id arrives', () => {
    const l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'hi' });
    expect(ob.visible(l, 'r', null, [])).toHaveLength(1);
    expect(ob.reconcile(l, msg({}), ME)).toEqual([]);
  });

  it('ignores messages of other people, rooms or client ids', () => {
    const l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'hi' });
    expect(ob.reconcile(l, msg({ author_id: 'bob' }), ME)).toBe(l);
    expect(ob.reconcile(l, msg({ room_id: 'other' }), ME)).toBe(l);
    expect(ob.reconcile(l, msg({ client_id: 'c2' }), ME)).toBe(l);
  });

  it('keeps an acked entry until the message itself arrives, matching by id', () => {
    let l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'hi' });
    l = ob.acked(l, 'c1', 'm1');
    expect(l[0].state).toBe('acked');
    expect(ob.failed(l, 'c1', 'late error')[0].state).toBe('acked');
    expect(ob.reconcile(l, msg({ client_id: null }), ME)).toEqual([]);
  });

  it('hides an entry whose message is already in the timeline', () => {
    const l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'hi' });
    expect(ob.visible(l, 'r', null, [msg({})])).toEqual([]);
    expect(ob.visible(l, 'other', null, [])).toEqual([]);
    expect(ob.visible(l, 'r', 'task', [])).toEqual([]);
  });

  it('fails, retries with the same client id, and resends only what is sending', () => {
    let l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'a' }, 0);
    l = ob.add(l, { client_id: 'c2', room_id: 'r', body: 'b' }, 0);
    l = ob.failed(l, 'c1', 'rate limited');
    expect(l[0]).toMatchObject({ state: 'failed', error: 'rate limited' });
    expect(ob.toResend(l).map((p) => p.client_id)).toEqual(['c2']);
    l = ob.retrying(l, 'c1', 50);
    expect(l[0]).toMatchObject({ client_id: 'c1', state: 'sending', error: null, sent_at: 50 });
    expect(ob.toResend(l)).toHaveLength(2);
  });

  it('expires silent sends', () => {
    let l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'a' }, 0);
    expect(ob.expire(l, 5000, 10000)).toBe(l);
    l = ob.expire(l, 20000, 10000);
    expect(l[0].state).toBe('failed');
  });

  it('discards', () => {
    const l = ob.add([], { client_id: 'c1', room_id: 'r', body: 'a' });
    expect(ob.discard(l, 'c1')).toEqual([]);
  });
});
