import { describe, expect, it } from 'vitest';
import { completeMention, matchMembers, mentionAt } from './mention';

describe('mention autocomplete', () => {
  it('finds the mention at the caret', () => {
    expect(mentionAt('hi @bo', 6)).toEqual({ start: 3, query: 'bo' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionAt('mail a@b', 8)).toBeNull();
    expect(mentionAt('hi @bob there', 13)).toBeNull();
  });
  it('completes and places the caret after it', () => {
    const q = mentionAt('hi @bo and', 6)!;
    expect(completeMention('hi @bo and', q, 6, 'bob')).toEqual({ text: 'hi @bob and', caret: 8 });
  });
  it('ranks prefix matches first', () => {
    const list = [
      { username: 'abob', display_name: 'A' },
      { username: 'bob', display_name: 'Bob' },
      { username: 'carl', display_name: 'Bobby Carl' },
    ];
    expect(matchMembers(list, 'bob').map((m) => m.username)).toEqual(['bob', 'carl', 'abob']);
  });
});
