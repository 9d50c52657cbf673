// Pure: the room's task board. Columns by status, each in the server's order (`position`).

import type { Task, TaskStatus } from '../api/types';
import { STATUSES } from '../api/types';

export type Columns = Record<TaskStatus, Task[]>;

export function columns(tasks: Task[]): Columns {
  const cols: Columns = { todo: [], doing: [], blocked: [], done: [] };
  for (const t of tasks) (cols[t.status] ?? cols.todo).push(t);
  for (const s of STATUSES) cols[s].sort((a, b) => a.position - b.position || a.id.localeCompare(b.id));
  return cols;
}

/**
 * Where a dropped task goes: `index` is the slot in the target column as the user sees it (the
 * dragged task still shown where it was). Returns the `after` of POST tasks/{id}/move: the task
 * just above the slot, ignoring the dragged one, or null for the top.
 */
export function afterFor(column: Task[], draggedId: string, index: number): string | null {
  const above = column.slice(0, Math.max(0, index)).filter((t) => t.id !== draggedId);
  return above.length ? above[above.length - 1].id : null;
}

/** The local, optimistic result of a move, before the server answers with the real position. */
export function moveLocally(tasks: Task[], id: string, status: TaskStatus, after: string | null): Task[] {
  const task = tasks.find((t) => t.id === id);
  if (!task) return tasks;
  const col = columns(tasks.filter((t) => t.id !== id))[status];
  let position: number;
  if (after === null) position = col.length ? col[0].position - 1024 : 1024;
  else {
    const i = col.findIndex((t) => t.id === after);
    if (i < 0) position = col.length ? col[col.length - 1].position + 1024 : 1024;
    else if (i === col.length - 1) position = col[i].position + 1024;
    else position = (col[i].position + col[i + 1].position) / 2;
  }
  return tasks.map((t) => (t.id === id ? { ...t, status, position } : t));
}

/** Moves for keyboard use: one place up or down in the column, or to the top of another column. */
export function neighbourMove(
  tasks: Task[],
  id: string,
  dir: 'up' | 'down' | 'left' | 'right',
): { status: TaskStatus; after: string | null } | null {
  const task = tasks.find((t) => t.id === id);
  if (!task) return null;
  const col = columns(tasks)[task.status];
  const i = col.findIndex((t) => t.id === id);
  if (dir === 'up') {
    if (i <= 0) return null;
    return { status: task.status, after: i >= 2 ? col[i - 2].id : null };
  }
  if (dir === 'down') {
    if (i >= col.length - 1) return null;
    return { status: task.status, after: col[i + 1].id };
  }
  const s = STATUSES.indexOf(task.status) + (dir === 'left' ? -1 : 1);
  if (s < 0 || s >= STATUSES.length) return null;
  return { status: STATUSES[s], after: null };
}

export function upsert(tasks: Task[], task: Task): Task[] {
  const i = tasks.findIndex((t) => t.id === task.id);
  if (i < 0) return [...tasks, task];
  const next = tasks.slice();
  next[i] = task;
  return next;
}

/** Due-date buckets for "My tasks". `today` is YYYY-MM-DD; "soon" is within `soonDays`. */
export function dueBucket(task: Task, today: string, soonDays = 7): 'overdue' | 'soon' | 'later' | 'none' {
  if (!task.due_on) return 'none';
  if (task.due_on < today) return 'overdue';
  const [y, m, d] = today.split('-').map(Number);
  const limit = new Date(y, m - 1, d + soonDays);
  const p = (n: number) => String(n).padStart(2, '0');
  const limitIso = `${limit.getFullYear()}-${p(limit.getMonth() + 1)}-${p(limit.getDate())}`;
  return task.due_on <= limitIso ? 'soon' : 'later';
}
