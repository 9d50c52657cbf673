// Unsent composer text, kept per user and per place (a room, a thread, a task's discussion) in
// localStorage, so it survives switching rooms and reloading the page. Bounded: at most
// MAX_DRAFTS places (the least recently touched go first) and MAX_CHARS characters each.

/** The subset of the Web Storage API drafts need; tests pass their own. */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface Draft {
  text: string;
  /** When it was last written, to evict the oldest first. */
  at: number;
}

export const MAX_DRAFTS = 50;
export const MAX_CHARS = 8000;

const storageKey = (userId: string) => `flowly.drafts.${userId}`;

/** Where a draft belongs: a room's composer, a thread's, or a task discussion's. */
export function draftPlace(roomId: string, opts: { taskId?: string | null; threadId?: string | null } = {}): string {
  if (opts.taskId) return `task:${opts.taskId}`;
  if (opts.threadId) return `thread:${roomId}:${opts.threadId}`;
  return `room:${roomId}`;
}

function browserStorage(): DraftStorage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

export class Drafts {
  constructor(
    private readonly userId: string,
    private readonly storage: DraftStorage | null = browserStorage(),
    private readonly now: () => number = Date.now,
  ) {}

  get(place: string): string {
    return this.read()[place]?.text ?? '';
  }

  /** Keeps `text` for `place`; an empty (or all-blank) text clears it. */
  set(place: string, text: string): void {
    const all = this.read();
    if (!text.trim()) delete all[place];
    else all[place] = { text: text.slice(0, MAX_CHARS), at: this.now() };
    this.write(all);
  }

  clear(place: string): void {
    this.set(place, '');
  }

  private read(): Record<string, Draft> {
    try {
      const parsed = JSON.parse(this.storage?.getItem(storageKey(this.userId)) ?? '{}');
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }

  private write(all: Record<string, Draft>): void {
    const kept = Object.entries(all)
      .filter(([, d]) => d && typeof d.text === 'string')
      .sort((a, b) => b[1].at - a[1].at)
      .slice(0, MAX_DRAFTS);
    try {
      if (kept.length === 0) this.storage?.removeItem(storageKey(this.userId));
      else this.storage?.setItem(storageKey(this.userId), JSON.stringify(Object.fromEntries(kept)));
    } catch {
      /* storage full or disabled: the draft lives only in the composer */
    }
  }
}
