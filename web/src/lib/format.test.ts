import { describe, expect, it } from 'vitest';
import { badgeCount, bodyParts, initials, snippetParts } from './format';

describe('format', () => {
  it('splits search snippets', () => {
    expect(snippetParts('the «backup» failed «again»')).toEqual([
      { text: 'the ', hit: false }, { text: 'backup', hit: true }, { text: ' failed ', hit: false }, { text: 'again', hit: true },
    ]);
  });
  it('finds mentions in bodies', () => {
    expect(bodyParts('hi @bob, mail a@b.c')).toEqual([
      { text: 'hi ', mention: false }, { text: '@bob', mention: true }, { text: ', mail a@b.c', mention: false },
    ]);
  });
  it('makes initials and badges', () => {
    expect(initials('Ann Lee')).toBe('AL');
    expect(initials('bob')).toBe('B');
    expect(badgeCount(120)).toBe('99+');
  });
});
