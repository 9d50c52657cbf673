// One task: every field editable, activity, source conversation, and its own discussion.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { confirmDialog } from '../dialog';
import { PRIORITIES, STATUSES, type StreamMessage, type Task } from '../../api/types';
import * as ob from '../../chat/outbox';
import { merge, normaliseMessage } from '../../chat/timeline';
import { dateTimeOf, timeOf } from '../../lib/format';
import { refreshMembers, retrySend } from '../../state/live';
import { href, navigate } from '../../state/router';
import { me, members, onFrames, outbox, roomById, toast } from '../../state/store';
import { ErrorText, useAction, useLoad } from '../common';
import { Body } from '../room/MessageItem';
import { Composer } from '../room/Composer';
import { describeChanges } from './changes';
import { TaskAttachments } from './TaskAttachments';
import { diff, formOf } from '../../tasks/form';

export function TaskDetail({ taskId }: { taskId: string }) {
  const task = useLoad(() => api.task(taskId), [taskId]);
  const t = task.data;
  if (task.error) return <section class="screen"><ErrorText error={task.error} /></section>;
  if (!t) return <section class="screen"><p class="muted">Loading task…</p></section>;
  return <TaskView key={t.id} task={t} setTask={task.set} reload={task.reload} />;
}

function TaskView({ task, setTask, reload }: { task: Task; setTask: (t: Task) => void; reload: () => void }) {
  const user = me.value!;
  const room = roomById(task.room_id);
  const roomMembers = members.value[task.room_id] ?? [];
  const [form, setForm] = useState(() => formOf(task));
  const events = useLoad(() => api.taskEvents(task.id), [task.id, task.updated_at]);
  const discussion = useLoad(() => api.taskMessages(task.id, { limit: 50 }), [task.id]);
  const { busy, error, run } = useAction();

  useEffect(() => void refreshMembers(task.room_id), [task.room_id]);
  useEffect(() => setForm(formOf(task)), [task.updated_at]);

  useEffect(
    () =>
      onFrames((f) => {
        const msg = f.data?.message as StreamMessage | undefined;
        if (!msg) return;
        if (msg.task_id === task.id && discussion.data) {
          discussion.set({ ...discussion.data, messages: merge(discussion.data.messages, [normaliseMessage(msg, user.id)], true) });
          if (f.type === 'message.created') setTask({ ...task, comment_count: task.comment_count + 1 });
        }
        if (f.type.startsWith('task.') && (msg.ref_task_id === task.id || msg.data?.task_id === task.id)) {
          if (f.type === 'task.deleted') {
            toast('This task was deleted.');
            navigate(`/r/${task.room_id}/board`);
          } else reload();
        }
      }),
    [task, discussion.data],
  );

  const save = async (e: Event) => {
    e.preventDefault();
    const body = diff(task, form);
    if (Object.keys(body).length === 0) return;
    await run(async () => setTask(await api.updateTask(task.id, body)));
  };

  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const names = Object.fromEntries(roomMembers.map((m) => [m.user_id, m.display_name]));
  const msgs = discussion.data?.messages.filter((m) => m.task_id === task.id) ?? [];
  const pending = ob.visible(outbox.value, task.room_id, task.id, msgs);

  return (
    <section class="screen task-detail">
      <p class="muted">
        <a href={href(`/r/${task.room_id}/board`)}>← {room ? room.name : 'Board'}</a>
        {' · '}created {dateTimeOf(task.created_at)}
      </p>
      <form class="stack card" onSubmit={save} aria-label="Task fields">
        <label>
          Title
          <input class="title-input" required maxLength={200} value={form.title} onInput={set('title')} />
        </label>
        <div class="grid3">
          <label>
            Status
            <select value={form.status} onChange={set('status')}>
              {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <label>
            Priority
            <select value={form.priority} onChange={set('priority')}>
              {PRIORITIES.map((p) => <option key={p} value={p}>{p}</option>)}
            </select>
          </label>
          <label>
            Assignee
            <select value={form.assignee_id} onChange={set('assignee_id')}>
              <option value="">Nobody</option>
              {roomMembers.map((m) => <option key={m.user_id} value={m.user_id}>{m.display_name}</option>)}
              {task.assignee_id && !roomMembers.some((m) => m.user_id === task.assignee_id) && (
                <option value={task.assignee_id}>{task.assignee_display_name}</option>
              )}
            </select>
          </label>
          <label>
            Due
            <input type="date" value={form.due_on} onInput={set('due_on')} />
          </label>
          <label class="span2">
            Labels <span class="muted">(comma-separated)</span>
            <input value={form.labels} onInput={set('labels')} />
          </label>
        </div>
        <label>
          Description
          <textarea rows={5} value={form.description} onInput={set('description')} />
        </label>
        <ErrorText error={error} />
        <div class="row wrap">
          <button class="primary" type="submit" disabled={busy}>Save changes</button>
          {task.status === 'done' ? (
            <button type="button" disabled={busy} onClick={() => void run(async () => setTask(await api.reopenTask(task.id)))}>Reopen</button>
          ) : (
            <button type="button" disabled={busy} onClick={() => void run(async () => setTask(await api.completeTask(task.id)))}>Mark done</button>
          )}
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={async () => {
              if (await confirmDialog({ title: 'Delete this task?', body: 'Its history stays in the room.', confirmLabel: 'Delete', danger: true }))
                void run(async () => {
                  await api.deleteTask(task.id);
                  navigate(`/r/${task.room_id}/board`);
                });
            }}
          >
            Delete
          </button>
        </div>
      </form>

      {task.source_snapshot && task.source_snapshot.length > 0 && (
        <section class="card">
          <h2>Source conversation</h2>
          <ol class="plain snapshot">
            {task.source_snapshot.map((m) => (
              <li key={m.id} class={m.id === task.source_message_id ? 'source-msg' : ''}>
                <strong>{m.author_display_name}</strong> <span class="muted">{timeOf(m.created_at)}</span>
                <p class="body"><Body text={m.body} /></p>
              </li>
            ))}
          </ol>
          {task.source_message_id && (
            <a href={href(`/r/${task.room_id}?m=${task.source_snapshot.find((m) => m.id === task.source_message_id)?.seq ?? ''}`)}>Open in the room</a>
          )}
        </section>
      )}

      <TaskAttachments taskId={task.id} />

      <section class="card">
        <h2>Discussion</h2>
        <ErrorText error={discussion.error} />
        {discussion.data?.has_more && (
          <button
            class="linkish small"
            onClick={() =>
              void api.taskMessages(task.id, { before: msgs[0]?.seq, limit: 50 }).then((p) =>
                discussion.set({ has_more: p.has_more, messages: merge(p.messages, msgs, true) }),
              )
            }
          >
            Load older comments
          </button>
        )}
        <ul class="plain discussion">
          {msgs.map((m) => (
            <li key={m.id}>
              <strong>{m.author_display_name}</strong> <span class="muted">{timeOf(m.created_at)}</span>
              <p class="body">{m.deleted_at ? <em class="muted">deleted</em> : <Body text={m.body} />}</p>
            </li>
          ))}
          {pending.map((p) => (
            <li key={p.client_id} class="pending">
              <p class="body">{p.body}</p>
              <span class="muted small">
                {p.state === 'failed' ? <>Not sent: {p.error} <button class="linkish small" onClick={() => retrySend(p.client_id)}>Retry</button></> : 'Sending…'}
              </span>
            </li>
          ))}
          {msgs.length === 0 && pending.length === 0 && !discussion.loading && <li class="muted">No comments yet.</li>}
        </ul>
        <Composer roomId={task.room_id} taskId={task.id} members={roomMembers} placeholder="Comment on this task…" />
      </section>

      <section class="card">
        <h2>Activity</h2>
        <ErrorText error={events.error} />
        <ol class="plain activity">
          {events.data?.map((ev) => (
            <li key={ev.id}>
              <span class="muted">{dateTimeOf(ev.created_at)}</span> <strong>{ev.actor_display_name ?? 'Someone'}</strong>{' '}
              {describeChanges(ev.kind, ev.changes, names).join('; ')}
            </li>
          ))}
        </ol>
      </section>
    </section>
  );
}
