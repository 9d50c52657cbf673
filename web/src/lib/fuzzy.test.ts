import { describe, expect, it } from 'vitest';
import { fuzzyFilter, fuzzyScore } from './fuzzy';

const names = ['Tallahassee', 'Launch plan', 'Personal', 'design-review', 'bob (DM)'];

describe('fuzzy matching', () => {
  it('matches characters in order, not necessarily adjacent, ignoring case and spaces', () => {
    expect(fuzzyScore('lnch', 'Launch plan')).not.toBeNull();
    expect(fuzzyScore('LAUNCH P', 'Launch plan')).not.toBeNull();
    expect(fuzzyScore('hcnl', 'Launch plan')).toBeNull();
    expect(fuzzyScore('launchx', 'Launch plan')).toBeNull();
  });

  it('ranks prefixes and word starts above scattered matches', () => {
    expect(fuzzyFilter(names, 'la', (s) => s)).toEqual(['Launch plan', 'Tallahassee']);
    expect(fuzzyFilter(names, 'dr', (s) => s)[0]).toBe('design-review');
    expect(fuzzyFilter(names, 'rev', (s) => s)).toEqual(['design-review']);
  });

  it('prefers the shorter name when the match is the same', () => {
    expect(fuzzyFilter(['Launch plan 2026', 'Launch'], 'launch', (s) => s)).toEqual(['Launch', 'Launch plan 2026']);
  });

  it('keeps everything, in order, for an empty query, and honours the limit', () => {
    expect(fuzzyFilter(names, '  ', (s) => s)).toEqual(names);
    expect(fuzzyFilter(names, '', (s) => s, 2)).toEqual(names.slice(0, 2));
  });
});
