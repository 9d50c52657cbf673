// Fuzzy matching for the quick switcher: the query's characters in order, not necessarily
// adjacent ("lnch" finds "Launch"). Runs of adjacent characters and word starts score higher,
// so "la" ranks "Launch" above "Tallahassee"; shorter names win ties.

/** A score (higher is better) if every character of `query` appears in `text` in order, else null. */
export function fuzzyScore(query: string, text: string): number | null {
  const q = query.toLowerCase().replace(/\s+/g, '');
  if (!q) return 0;
  const t = text.toLowerCase();
  let score = 0;
  let from = 0;
  let prev = -2;
  for (const ch of q) {
    const i = t.indexOf(ch, from);
    if (i < 0) return null;
    score += 1;
    if (i === prev + 1) score += 3; // adjacent to the previous match
    if (i === 0 || /[\s\-_.@#/]/.test(t[i - 1])) score += 4; // a word start
    prev = i;
    from = i + 1;
  }
  if (t.startsWith(q)) score += 10;
  return score - t.length / 100;
}

/** The items that match, best first (ties keep their order); an empty query keeps them all. */
export function fuzzyFilter<T>(items: T[], query: string, text: (item: T) => string, limit = 50): T[] {
  return items
    .map((item, i) => ({ item, i, s: fuzzyScore(query, text(item)) }))
    .filter((x): x is { item: T; i: number; s: number } => x.s !== null)
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, limit)
    .map((x) => x.item);
}
