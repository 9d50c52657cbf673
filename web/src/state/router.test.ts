import { describe, expect, it } from 'vitest';
import { parseHash } from './router';

describe('parseHash', () => {
  it('splits path and query', () => {
    const r = parseHash('#/r/abc/board?status=todo');
    expect(r.path).toEqual(['r', 'abc', 'board']);
    expect(r.query.get('status')).toBe('todo');
  });
  it('handles empty hashes', () => {
    expect(parseHash('').path).toEqual([]);
    expect(parseHash('#/').path).toEqual([]);
  });
  it('decodes search terms', () => {
    expect(parseHash('#/search?q=hello%20world').query.get('q')).toBe('hello world');
  });
});
