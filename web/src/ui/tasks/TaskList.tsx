// The room's tasks as a list with filters (status, assignee, label, due before).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { STATUSES, type Member, type Room, type TaskStatus } from '../../api/types';
import { onFrames } from '../../state/store';
import { ErrorText, useLoad } from '../common';
import { TaskFormDialog } from './TaskForm';
import { TaskLink, TaskMeta } from './TaskCard';

export function TaskList({ room, members }: { room: Room; members: Member[] }) {
  const [statuses, setStatuses] = useState<TaskStatus[]>(['todo', 'doing', 'blocked']);
  const [assignee, setAssignee] = useState('');
  const [label, setLabel] = useState('');
  const [dueBefore, setDueBefore] = useState('');
  const [creating, setCreating] = useState(false);
  const filter = {
    room: room.id,
    status: statuses.join(',') || undefined,
    assignee: assignee || undefined,
    label: label.trim() || undefined,
    due_before: dueBefore || undefined,
    limit: 200,
  };
  const tasks = useLoad(() => api.tasks(filter), [room.id, statuses.join(), assignee, label, dueBefore]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(
    () =>
      onFrames((f) => {
        if (f.room !== room.id || !f.type.startsWith('task.') || timer.current) return;
        timer.current = setTimeout(() => {
          timer.current = null;
          tasks.reload();
        }, 300);
      }),
    [room.id],
  );

  const toggle = (s: TaskStatus) => setStatuses(statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s]);

  return (
    <div class="screen task-list">
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <fieldset class="row wrap">
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label class="check" key={s}>
              <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggle(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <div class="row wrap">
          <label>
            Assignee
            <select value={assignee} onChange={(e) => setAssignee((e.target as HTMLSelectElement).value)}>
              <option value="">Anyone</option>
              <option value="me">Me</option>
              {members.map((m) => <option key={m.user_id} value={m.user_id}>{m.display_name}</option>)}
            </select>
          </label>
          <label>
            Label
            <input value={label} onChange={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Due before
            <input type="date" value={dueBefore} onInput={(e) => setDueBefore((e.target as HTMLInputElement).value)} />
          </label>
          <button type="button" class="primary" onClick={() => setCreating(true)}>New task</button>
        </div>
      </form>
      <ErrorText error={tasks.error} />
      {tasks.loading && <p class="muted">Loading…</p>}
      {tasks.data?.length === 0 && <p class="muted">No tasks match.</p>}
      <ul class="plain rows">
        {tasks.data?.map((t) => (
          <li key={t.id} class="task-row">
            <span class={`status status-${t.status}`}>{t.status}</span>
            <TaskLink task={t} />
            <TaskMeta task={t} />
          </li>
        ))}
      </ul>
      {creating && <TaskFormDialog roomId={room.id} members={members} onClose={() => setCreating(false)} onCreated={() => tasks.reload()} />}
    </div>
  );
}
