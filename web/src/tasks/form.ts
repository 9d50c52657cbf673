// Pure: the task detail form and the PATCH body it produces.
import type { Priority, Task, TaskStatus, TaskUpdate } from '../api/types';

export interface TaskForm {
  title: string;
  description: string;
  status: TaskStatus;
  priority: Priority;
  assignee_id: string;
  due_on: string;
  labels: string;
}

/** "infra, ops ,infra" → ["infra", "ops"]: trimmed, deduplicated and sorted like the server does. */
export function parseLabels(text: string): string[] {
  return [...new Set(text.split(',').map((l) => l.trim()).filter(Boolean))].sort();
}

export function formOf(t: Task): TaskForm {
  return {
    title: t.title, description: t.description, status: t.status, priority: t.priority,
    assignee_id: t.assignee_id ?? '', due_on: t.due_on ?? '', labels: t.labels.join(', '),
  };
}

/** Only the fields that changed; `null` clears assignee and due date. */
export function diff(t: Task, f: TaskForm): TaskUpdate {
  const out: TaskUpdate = {};
  if (f.title.trim() !== t.title) out.title = f.title.trim();
  if (f.description.trim() !== t.description) out.description = f.description.trim();
  if (f.status !== t.status) out.status = f.status;
  if (f.priority !== t.priority) out.priority = f.priority;
  if ((f.assignee_id || null) !== (t.assignee_id ?? null)) out.assignee_id = f.assignee_id || null;
  if ((f.due_on || null) !== (t.due_on ?? null)) out.due_on = f.due_on || null;
  const labels = parseLabels(f.labels);
  if (labels.join('\n') !== [...t.labels].sort().join('\n')) out.labels = labels;
  return out;
}
