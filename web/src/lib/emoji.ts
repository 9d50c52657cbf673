// The full emoji set (emojibase-data, loaded on first use as its own chunk so the first page load
// stays small), search over names and tags, and each user's recently used emoji.

export interface Emoji {
  emoji: string;
  label: string;
  tags: string[];
  group: number;
}

/** emojibase's groups in its order; 2 ("component": bare skin tones, hair) is left out. */
export const GROUPS: [number, string][] = [
  [0, 'Smileys & emotion'], [1, 'People & body'], [3, 'Animals & nature'], [4, 'Food & drink'],
  [5, 'Travel & places'], [6, 'Activities'], [7, 'Objects'], [8, 'Symbols'], [9, 'Flags'],
];

/** Shown (after the recent ones) before the user has used any. */
export const DEFAULT_EMOJI = ['👍', '❤️', '😂', '🎉', '👀', '✅'];
const MAX_RECENT = 24;

interface CompactEmoji {
  unicode: string;
  label: string;
  tags?: string[];
  group?: number;
}

let loading: Promise<Emoji[]> | null = null;

/** The emoji set, fetched once per page (a dynamic import: its own chunk). */
export function loadEmoji(): Promise<Emoji[]> {
  loading ??= import('emojibase-data/en/compact.json').then((m) => fromCompact(m.default as CompactEmoji[]));
  loading.catch(() => (loading = null)); // a failed fetch is tried again next time
  return loading;
}

export function fromCompact(data: CompactEmoji[]): Emoji[] {
  return data
    .filter((e) => e.group !== undefined && e.group !== 2)
    .map((e) => ({ emoji: e.unicode, label: e.label, tags: e.tags ?? [], group: e.group! }));
}

/** Emoji whose name or a tag contains every word of the query; names that start with it first. */
export function searchEmoji(list: Emoji[], query: string): Emoji[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return list;
  const hits = list.filter((e) => {
    const label = e.label.toLowerCase();
    return words.every((w) => label.includes(w) || e.tags.some((t) => t.includes(w)));
  });
  const first = words[0];
  const rank = (e: Emoji) => (e.label.toLowerCase().startsWith(first) ? 0 : e.tags.includes(first) ? 1 : 2);
  return hits.map((e, i) => ({ e, i, r: rank(e) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.e);
}

const recentKey = (userId: string) => `flowly.emoji.recent.${userId}`;

/** The user's recently used emoji, newest first. */
export function recentEmoji(userId: string, storage: Storage | null = safeStorage()): string[] {
  try {
    const list = JSON.parse(storage?.getItem(recentKey(userId)) ?? '[]');
    return Array.isArray(list) ? list.filter((e): e is string => typeof e === 'string').slice(0, MAX_RECENT) : [];
  } catch {
    return [];
  }
}

export function rememberEmoji(userId: string, emoji: string, storage: Storage | null = safeStorage()): void {
  const next = [emoji, ...recentEmoji(userId, storage).filter((e) => e !== emoji)].slice(0, MAX_RECENT);
  try {
    storage?.setItem(recentKey(userId), JSON.stringify(next));
  } catch {
    /* storage full or disabled */
  }
}

/** Recent emoji first, topped up with the defaults, `n` in all. */
export function quickEmoji(recent: string[], n = 6): string[] {
  return [...new Set([...recent, ...DEFAULT_EMOJI])].slice(0, n);
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
