// Pure: the @mention being typed at the caret, and the completion that replaces it.

export interface MentionQuery {
  start: number; // index of "@"
  query: string;
}

export function mentionAt(text: string, caret: number): MentionQuery | null {
  const before = text.slice(0, caret);
  const m = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2].toLowerCase() };
}

export function completeMention(text: string, q: MentionQuery, caret: number, username: string): { text: string; caret: number } {
  const insert = `@${username} `;
  const next = text.slice(0, q.start) + insert + text.slice(caret).replace(/^\s/, '');
  return { text: next, caret: q.start + insert.length };
}

export function matchMembers<T extends { username: string; display_name: string }>(list: T[], query: string, limit = 6): T[] {
  const q = query.toLowerCase();
  const starts = list.filter((m) => m.username.toLowerCase().startsWith(q) || m.display_name.toLowerCase().startsWith(q));
  const contains = list.filter((m) => !starts.includes(m) && (m.username.toLowerCase().includes(q) || m.display_name.toLowerCase().includes(q)));
  return [...starts, ...contains].slice(0, limit);
}
