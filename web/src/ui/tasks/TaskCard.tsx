import type { Task } from '../../api/types';
import { href } from '../../state/router';
import { dueBucket } from '../../tasks/board';
import { isoDate } from '../../tasks/prefill';

export function DueTag({ task }: { task: Task }) {
  if (!task.due_on) return null;
  const b = task.status === 'done' ? 'later' : dueBucket(task, isoDate(new Date()));
  return <span class={`tag due-${b}`} title="Due date">{b === 'overdue' ? 'overdue ' : 'due '}{task.due_on}</span>;
}

export function TaskMeta({ task }: { task: Task }) {
  return (
    <span class="task-meta">
      {task.priority !== 'normal' && <span class={`tag prio-${task.priority}`}>{task.priority}</span>}
      <DueTag task={task} />
      {task.assignee_display_name && <span class="tag">@{task.assignee_username}</span>}
      {task.labels.map((l) => <span key={l} class="tag label">{l}</span>)}
      {task.comment_count > 0 && <span class="muted small">💬 {task.comment_count}</span>}
    </span>
  );
}

export function TaskLink({ task }: { task: Task }) {
  return <a href={href(`/t/${task.id}`)} class="task-title">{task.title}</a>;
}
