import { describe, expect, it } from 'vitest';
import { draftPlace, Drafts, MAX_CHARS, MAX_DRAFTS, type DraftStorage } from './drafts';

function memory(): DraftStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe('drafts', () => {
  it('keeps a draft per place and per user', () => {
    const store = memory();
    const ann = new Drafts('ann', store);
    ann.set(draftPlace('r1'), 'half a thought');
    ann.set(draftPlace('r1', { threadId: 'm1' }), 'a reply');
    ann.set(draftPlace('r1', { taskId: 't1' }), 'a comment');
    expect(new Drafts('ann', store).get(draftPlace('r1'))).toBe('half a thought');
    expect(ann.get(draftPlace('r1', { threadId: 'm1' }))).toBe('a reply');
    expect(ann.get(draftPlace('r1', { taskId: 't1' }))).toBe('a comment');
    expect(ann.get(draftPlace('r2'))).toBe('');
    expect(new Drafts('bob', store).get(draftPlace('r1'))).toBe('');
  });

  it('clears on send and when emptied, leaving no key behind', () => {
    const store = memory();
    const d = new Drafts('ann', store);
    d.set('room:a', 'x');
    d.set('room:b', 'y');
    d.clear('room:a');
    expect(d.get('room:a')).toBe('');
    d.set('room:b', '   ');
    expect(d.get('room:b')).toBe('');
    expect(store.data.size).toBe(0);
  });

  it('keeps only the most recently written places, each cut to the size limit', () => {
    let t = 0;
    const d = new Drafts('ann', memory(), () => ++t);
    for (let i = 0; i < MAX_DRAFTS + 5; i++) d.set(`room:${i}`, `draft ${i}`);
    expect(d.get('room:0')).toBe('');
    expect(d.get('room:4')).toBe('');
    expect(d.get('room:5')).toBe('draft 5');
    expect(d.get(`room:${MAX_DRAFTS + 4}`)).toBe(`draft ${MAX_DRAFTS + 4}`);
    d.set('room:big', 'x'.repeat(MAX_CHARS + 100));
    expect(d.get('room:big')).toHaveLength(MAX_CHARS);
  });

  it('survives corrupt or missing storage', () => {
    const store = memory();
    store.setItem('flowly.drafts.ann', '{not json');
    expect(new Drafts('ann', store).get('room:a')).toBe('');
    store.setItem('flowly.drafts.ann', '[1,2]');
    expect(new Drafts('ann', store).get('room:a')).toBe('');
    const none = new Drafts('ann', null);
    none.set('room:a', 'x');
    expect(none.get('room:a')).toBe('');
    const full: DraftStorage = { ...memory(), setItem: () => { throw new Error('QuotaExceededError'); } };
    expect(() => new Drafts('ann', full).set('room:a', 'x')).not.toThrow();
  });
});
