import { describe, expect, it } from 'vitest';
import { SeqTracker } from './tracker';

const ev = (room: string, seq: number) => ({ type: 'message.created', room, seq, data: {} });

describe('SeqTracker', () => {
  it('applies events in order and drops repeats', () => {
    const t = new SeqTracker({ a: 5 });
    expect(t.accept(ev('a', 6)).kind).toBe('apply');
    expect(t.accept(ev('a', 7)).kind).toBe('apply');
    expect(t.accept(ev('a', 7)).kind).toBe('duplicate');
    expect(t.accept(ev('a', 3)).kind).toBe('duplicate');
    expect(t.get('a')).toBe(7);
  });

  it('reports a gap without advancing', () => {
    const t = new SeqTracker({ a: 5 });
    expect(t.accept(ev('a', 8))).toEqual({ kind: 'gap', room: 'a', expected: 6, got: 8 });
    expect(t.get('a')).toBe(5);
  });

  it('treats frames without seq as ephemeral', () => {
    const t = new SeqTracker();
    expect(t.accept({ type: 'typing.started', room: 'a', data: {} }).kind).toBe('ephemeral');
    expect(t.accept({ type: 'presence', data: {} }).kind).toBe('ephemeral');
  });

  it('starts a room that appears live at its first event', () => {
    const t = new SeqTracker();
    expect(t.accept(ev('new', 1)).kind).toBe('apply');
    expect(t.accept(ev('new', 2)).kind).toBe('apply');
    expect(t.get('new')).toBe(2);
  });

  it('plans a resume from what it knows', () => {
    const t = new SeqTracker({ a: 5, b: 10, gone: 3, far: 1 });
    const plan = t.planResume(
      [
        { room: 'a', last_seq: 9 },
        { room: 'b', last_seq: 10 },
        { room: 'fresh', last_seq: 40 },
        { room: 'far', last_seq: 5000 },
      ],
      1000,
    );
    expect(plan.resume).toEqual({ a: 5, b: 10 });
    expect(plan.gone).toEqual(['gone']);
    expect(plan.stale.sort()).toEqual(['far', 'fresh']);
    expect(t.snapshot()).toEqual({ a: 5, b: 10, fresh: 40, far: 5000 });
    // Replay then fills the gap for a.
    for (const s of [6, 7, 8, 9]) expect(t.accept(ev('a', s)).kind).toBe('apply');
    expect(t.accept(ev('fresh', 41)).kind).toBe('apply');
  });

  it('never resumes above the server last_seq', () => {
    const t = new SeqTracker({ a: 50 });
    expect(t.planResume([{ room: 'a', last_seq: 20 }]).resume).toEqual({ a: 20 });
    expect(t.accept(ev('a', 21)).kind).toBe('apply');
  });

  it('takes resumed as the truth and drops rooms not listed', () => {
    const t = new SeqTracker({ a: 5, b: 2 });
    t.resumed({ a: 9, c: 4 });
    expect(t.snapshot()).toEqual({ a: 9, c: 4 });
    expect(t.accept(ev('a', 9)).kind).toBe('duplicate');
    expect(t.accept(ev('a', 10)).kind).toBe('apply');
  });

  it('ignores bad stored values', () => {
    const t = new SeqTracker({ a: -1, b: 2.5 as number, c: 3 });
    expect(t.snapshot()).toEqual({ c: 3 });
  });
});
