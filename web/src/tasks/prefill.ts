// Pure: turn a chat message into the defaults of a task form.
// - title: the message's first non-empty line (mentions kept), cut to 200 characters;
// - assignee: the first @mention (in text order) that names a member of the room;
// - due date: the first date the text gives: an ISO date (YYYY-MM-DD), "today"/"tonight"/"eod",
//   "tomorrow", or a weekday ("friday", "fri", "next friday"). A bare weekday is its next
//   occurrence, today included; "next <weekday>" is always after today, a week later when today
//   is that weekday.

export interface PrefillMember {
  user_id: string;
  username: string;
}

export interface Prefill {
  title: string;
  assignee_id: string | null;
  due_on: string | null;
}

const MAX_TITLE = 200;

const WEEKDAYS: Record<string, number> = {
  sunday: 0, sun: 0,
  monday: 1, mon: 1,
  tuesday: 2, tue: 2, tues: 2,
  wednesday: 3, wed: 3,
  thursday: 4, thu: 4, thur: 4, thurs: 4,
  friday: 5, fri: 5,
  saturday: 6, sat: 6,
};

export function titleFrom(body: string): string {
  const line = body.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  const chars = Array.from(line);
  return chars.length > MAX_TITLE ? chars.slice(0, MAX_TITLE - 1).join('') + '…' : line;
}

/** @usernames in text order: "@" at the start of a word, then the username characters. */
export function mentionsIn(body: string): string[] {
  const out: string[] = [];
  const re = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,31})/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) out.push(m[2].replace(/[.-]+$/, '').toLowerCase());
  return out;
}

export function assigneeFrom(body: string, members: PrefillMember[]): string | null {
  const byName = new Map(members.map((m) => [m.username.toLowerCase(), m.user_id]));
  for (const name of mentionsIn(body)) {
    const id = byName.get(name);
    if (id) return id;
  }
  return null;
}

/** The local calendar date as YYYY-MM-DD. */
export function isoDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function addDays(d: Date, n: number): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
}

function validIso(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const date = new Date(y, m - 1, d);
  return date.getFullYear() === y && date.getMonth() === m - 1 && date.getDate() === d;
}

export function dueFrom(body: string, today: Date): string | null {
  const text = body.toLowerCase();
  const candidates: { at: number; date: string }[] = [];

  const iso = /\b(\d{4})-(\d{2})-(\d{2})\b/g;
  let m: RegExpExecArray | null;
  while ((m = iso.exec(text)) !== null) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (validIso(y, mo, d)) candidates.push({ at: m.index, date: `${m[1]}-${m[2]}-${m[3]}` });
  }

  const words = /\b(today|tonight|eod|tomorrow|tmrw|(next\s+)?(sunday|sun|monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thur|thu|friday|fri|saturday|sat))\b/g;
  while ((m = words.exec(text)) !== null) {
    const word = m[1];
    let date: Date;
    if (word === 'today' || word === 'tonight' || word === 'eod') date = today;
    else if (word === 'tomorrow' || word === 'tmrw') date = addDays(today, 1);
    else {
      const target = WEEKDAYS[m[3]];
      let ahead = (target - today.getDay() + 7) % 7;
      if (m[2] && ahead === 0) ahead = 7;
      date = addDays(today, ahead);
    }
    candidates.push({ at: m.index, date: isoDate(date) });
  }

  if (candidates.length === 0) return null;
  candidates.sort((a, b) => a.at - b.at);
  return candidates[0].date;
}

export function prefillTask(body: string, members: PrefillMember[], today: Date = new Date()): Prefill {
  return {
    title: titleFrom(body),
    assignee_id: assigneeFrom(body, members),
    due_on: dueFrom(body, today),
  };
}
