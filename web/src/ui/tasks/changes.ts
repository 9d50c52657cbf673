// Pure: a task event's changes as short sentences for the activity list.
export function describeChanges(kind: string, changes: Record<string, unknown>, names: Record<string, string> = {}): string[] {
  const show = (field: string, v: unknown): string => {
    if (v === null || v === undefined || v === '') return 'none';
    if (field === 'assignee_id' && typeof v === 'string') return names[v] ?? 'someone';
    if (Array.isArray(v)) return v.length ? v.join(', ') : 'none';
    if (field === 'description') return '…';
    return String(v);
  };
  const label: Record<string, string> = { assignee_id: 'assignee', due_on: 'due date', source_message_id: 'source' };
  if (kind === 'created') return ['created the task'];
  const out: string[] = [];
  for (const [field, change] of Object.entries(changes)) {
    if (field === 'position') continue;
    const c = change as { from?: unknown; to?: unknown } | null;
    const name = label[field] ?? field;
    if (c && typeof c === 'object' && 'to' in c) {
      out.push(field === 'description' ? 'changed the description' : `${name}: ${show(field, c.from)} → ${show(field, c.to)}`);
    }
  }
  if (out.length === 0) out.push(kind === 'moved' ? 'reordered the task' : kind);
  return out;
}
