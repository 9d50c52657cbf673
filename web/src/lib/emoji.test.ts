import { describe, expect, it } from 'vitest';
import { DEFAULT_EMOJI, fromCompact, loadEmoji, quickEmoji, recentEmoji, rememberEmoji, searchEmoji } from './emoji';

function memory(): Storage {
  const data = new Map<string, string>();
  return {
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    key: (i) => [...data.keys()][i] ?? null,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe('emoji', () => {
  it('loads the full set from emojibase-data, without the bare components', async () => {
    const all = await loadEmoji();
    expect(all.length).toBeGreaterThan(1800);
    expect(all.find((e) => e.emoji === '🚀')).toMatchObject({ label: 'rocket', group: 5 });
    expect(all.some((e) => e.group === 2)).toBe(false);
    expect(await loadEmoji()).toBe(all); // once per page
  });

  it('drops entries without a group (regional indicators) and the component group', () => {
    const list = fromCompact([
      { unicode: '🇦', label: 'regional indicator A' },
      { unicode: '🏻', label: 'light skin tone', group: 2 },
      { unicode: '😀', label: 'grinning face', group: 0, tags: ['face', 'grin'] },
    ]);
    expect(list).toEqual([{ emoji: '😀', label: 'grinning face', tags: ['face', 'grin'], group: 0 }]);
  });

  it('searches names and tags, every word, names starting with the query first', () => {
    const list = [
      { emoji: '🐱', label: 'cat face', tags: ['cat', 'pet'], group: 3 },
      { emoji: '🙀', label: 'weary cat', tags: ['cat', 'surprised'], group: 0 },
      { emoji: '🎉', label: 'party popper', tags: ['celebration', 'party'], group: 6 },
    ];
    expect(searchEmoji(list, 'CAT').map((e) => e.emoji)).toEqual(['🐱', '🙀']);
    expect(searchEmoji(list, 'cat surp').map((e) => e.emoji)).toEqual(['🙀']);
    expect(searchEmoji(list, 'celebr').map((e) => e.emoji)).toEqual(['🎉']);
    expect(searchEmoji(list, 'dog')).toEqual([]);
    expect(searchEmoji(list, '  ')).toBe(list);
  });

  it('keeps recent emoji per user, newest first, without repeats, at most 24', () => {
    const store = memory();
    expect(recentEmoji('ann', store)).toEqual([]);
    rememberEmoji('ann', '🚀', store);
    rememberEmoji('ann', '🎉', store);
    rememberEmoji('ann', '🚀', store);
    expect(recentEmoji('ann', store)).toEqual(['🚀', '🎉']);
    expect(recentEmoji('bob', store)).toEqual([]);
    for (let i = 0; i < 30; i++) rememberEmoji('ann', String(i), store);
    expect(recentEmoji('ann', store)).toHaveLength(24);
    store.setItem('flowly.emoji.recent.ann', '{oops');
    expect(recentEmoji('ann', store)).toEqual([]);
  });

  it('puts recent emoji before the defaults in the quick row', () => {
    expect(quickEmoji([])).toEqual(DEFAULT_EMOJI);
    expect(quickEmoji(['🚀', '👍'])).toEqual(['🚀', '👍', '❤️', '😂', '🎉', '👀']);
  });
});
