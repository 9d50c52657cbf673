// The task form: "Make task" from a message (prefilled by tasks/prefill.ts) or a new task in a room.
import { useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { PRIORITIES, STATUSES, type Member, type Message, type Priority, type Task, type TaskStatus } from '../../api/types';
import { parseLabels } from '../../tasks/form';
import { prefillTask } from '../../tasks/prefill';
import { href } from '../../state/router';
import { toast } from '../../state/store';
import { Dialog, ErrorText, useAction } from '../common';

interface Props {
  roomId: string | null;
  members: Member[];
  source?: Message | null;
  status?: TaskStatus;
  onClose: () => void;
  onCreated?: (t: Task) => void;
}

export function TaskFormDialog({ roomId, members, source, status = 'todo', onClose, onCreated }: Props) {
  const [init] = useState(() =>
    source ? prefillTask(source.body, members) : { title: '', assignee_id: null as string | null, due_on: null as string | null },
  );
  const [title, setTitle] = useState(init.title);
  const [description, setDescription] = useState('');
  const [assignee, setAssignee] = useState(init.assignee_id ?? '');
  const [due, setDue] = useState(init.due_on ?? '');
  const [priority, setPriority] = useState<Priority>('normal');
  const [st, setSt] = useState<TaskStatus>(status);
  const [labels, setLabels] = useState('');
  const { busy, error, run } = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      title: title.trim(),
      description: description.trim(),
      assignee_id: assignee || null,
      due_on: due || null,
      priority,
      status: st,
      labels: parseLabels(labels),
    };
    await run(async () => {
      const task = source ? await api.taskFromMessage(source.id, body) : await api.createTask({ ...body, room_id: roomId });
      toast(`Task created: ${task.title}`);
      onCreated?.(task);
      onClose();
    });
  };

  return (
    <Dialog title={source ? 'Make a task from this message' : 'New task'} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {source && (
          <blockquote class="source">
            <strong>{source.author_display_name}:</strong> {source.body.slice(0, 300)}
          </blockquote>
        )}
        <label>
          Title
          <input required maxLength={200} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Description
          <textarea rows={3} value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
        </label>
        <div class="grid2">
          <label>
            Assignee
            <select value={assignee} onChange={(e) => setAssignee((e.target as HTMLSelectElement).value)}>
              <option value="">Nobody</option>
              {members.map((m) => (
                <option key={m.user_id} value={m.user_id}>{m.display_name} (@{m.username})</option>
              ))}
            </select>
          </label>
          <label>
            Due
            <input type="date" value={due} onInput={(e) => setDue((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Priority
            <select value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value as Priority)}>
              {PRIORITIES.map((p) => <option key={p} value={p}>{p}</option>)}
            </select>
          </label>
          <label>
            Status
            <select value={st} onChange={(e) => setSt((e.target as HTMLSelectElement).value as TaskStatus)}>
              {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
        </div>
        <label>
          Labels <span class="muted">(comma-separated)</span>
          <input value={labels} onInput={(e) => setLabels((e.target as HTMLInputElement).value)} />
        </label>
        <ErrorText error={error} />
        <div class="row end">
          <button type="button" onClick={onClose}>Cancel</button>
          <button class="primary" type="submit" disabled={busy}>Create task</button>
        </div>
        {source && <p class="muted small">The task links back to <a href={href(`/r/${source.room_id}?m=${source.seq}`)}>the message</a>.</p>}
      </form>
    </Dialog>
  );
}
