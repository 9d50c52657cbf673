// My tasks across all rooms: overdue, due soon, later, no date.
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api/endpoints';
import type { Task } from '../api/types';
import { dueBucket } from '../tasks/board';
import { isoDate } from '../tasks/prefill';
import { onFrames, roomById } from '../state/store';
import { ErrorText, useLoad } from './common';
import { TaskLink, TaskMeta } from './tasks/TaskCard';

const GROUPS = [
  ['overdue', 'Overdue'],
  ['soon', 'Due in the next 7 days'],
  ['later', 'Later'],
  ['none', 'No due date'],
] as const;

export function MyTasks() {
  const tasks = useLoad(() => api.tasks({ assignee: 'me', status: 'todo,doing,blocked', limit: 200 }), []);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () =>
      onFrames((f) => {
        if (!f.type.startsWith('task.') || timer.current) return;
        timer.current = setTimeout(() => {
          timer.current = null;
          tasks.reload();
        }, 500);
      }),
    [],
  );
  const today = isoDate(new Date());
  const by = (b: string) => (tasks.data ?? []).filter((t) => dueBucket(t, today) === b);
  return (
    <section class="screen">
      <h1>My tasks</h1>
      <ErrorText error={tasks.error} />
      {tasks.loading && !tasks.data && <p class="muted">Loading…</p>}
      {tasks.data?.length === 0 && <p class="muted">Nothing assigned to you. Nice.</p>}
      {GROUPS.map(([key, title]) => {
        const list = by(key);
        if (list.length === 0) return null;
        return (
          <section key={key} class={`bucket bucket-${key}`}>
            <h2>{title} <span class="muted">{list.length}</span></h2>
            <ul class="plain rows">
              {list.map((t: Task) => (
                <li key={t.id} class="task-row">
                  <span class={`status status-${t.status}`}>{t.status}</span>
                  <TaskLink task={t} />
                  <span class="muted small">{roomById(t.room_id)?.name ?? (t.room_kind === 'self' ? 'Personal' : '')}</span>
                  <TaskMeta task={t} />
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </section>
  );
}
