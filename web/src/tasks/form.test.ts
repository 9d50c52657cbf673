import { describe, expect, it } from 'vitest';
import type { Task } from '../api/types';
import { diff, formOf, parseLabels } from './form';

const task: Task = {
  id: 't', room_id: 'r', room_kind: 'group', title: 'Fix', description: '', status: 'todo', priority: 'normal',
  assignee_id: 'u1', due_on: '2026-12-01', labels: ['infra', 'ops'], position: 1, created_at: '', updated_at: '', comment_count: 0,
};

describe('task form', () => {
  it('parses labels like the server', () => {
    expect(parseLabels(' ops, infra ,ops,, ')).toEqual(['infra', 'ops']);
  });
  it('sends nothing when nothing changed', () => {
    expect(diff(task, formOf(task))).toEqual({});
    expect(diff(task, { ...formOf(task), labels: 'ops, infra' })).toEqual({});
  });
  it('sends changed fields, null to clear', () => {
    expect(diff(task, { ...formOf(task), title: ' Fix it ', assignee_id: '', due_on: '', priority: 'urgent', labels: 'infra' })).toEqual({
      title: 'Fix it', assignee_id: null, due_on: null, priority: 'urgent', labels: ['infra'],
    });
  });
});
