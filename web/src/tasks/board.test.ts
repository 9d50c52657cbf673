import { describe, expect, it } from 'vitest';
import type { Task } from '../api/types';
import { afterFor, columns, dueBucket, moveLocally, neighbourMove, upsert } from './board';

const t = (id: string, status: Task['status'], position: number, over: Partial<Task> = {}): Task => ({
  id, room_id: 'r', room_kind: 'group', title: id, description: '', status, priority: 'normal', labels: [],
  position, created_at: '', updated_at: '', comment_count: 0, ...over,
});

const tasks = [t('a', 'todo', 2048), t('b', 'todo', 1024), t('c', 'todo', 3072), t('d', 'doing', 1024)];

describe('board', () => {
  it('sorts columns by position', () => {
    const cols = columns(tasks);
    expect(cols.todo.map((x) => x.id)).toEqual(['b', 'a', 'c']);
    expect(cols.doing.map((x) => x.id)).toEqual(['d']);
    expect(cols.done).toEqual([]);
  });

  it('computes `after` for a drop slot', () => {
    const todo = columns(tasks).todo; // b a c
    expect(afterFor(todo, 'x', 0)).toBeNull();
    expect(afterFor(todo, 'x', 1)).toBe('b');
    expect(afterFor(todo, 'x', 3)).toBe('c');
    // Dragging b below a: slot 2 (after a), b itself ignored.
    expect(afterFor(todo, 'b', 2)).toBe('a');
    // Dropping c in its own place leaves it after a.
    expect(afterFor(todo, 'c', 2)).toBe('a');
    expect(afterFor(todo, 'b', 1)).toBeNull();
  });

  it('moves locally between and within columns', () => {
    let next = moveLocally(tasks, 'd', 'todo', 'b');
    expect(columns(next).todo.map((x) => x.id)).toEqual(['b', 'd', 'a', 'c']);
    next = moveLocally(tasks, 'c', 'todo', null);
    expect(columns(next).todo.map((x) => x.id)).toEqual(['c', 'b', 'a']);
    next = moveLocally(tasks, 'b', 'done', null);
    expect(columns(next).done.map((x) => x.id)).toEqual(['b']);
    next = moveLocally(tasks, 'a', 'todo', 'c');
    expect(columns(next).todo.map((x) => x.id)).toEqual(['b', 'c', 'a']);
  });

  it('gives keyboard moves', () => {
    expect(neighbourMove(tasks, 'b', 'up')).toBeNull();
    expect(neighbourMove(tasks, 'a', 'up')).toEqual({ status: 'todo', after: null });
    expect(neighbourMove(tasks, 'c', 'up')).toEqual({ status: 'todo', after: 'b' });
    expect(neighbourMove(tasks, 'b', 'down')).toEqual({ status: 'todo', after: 'a' });
    expect(neighbourMove(tasks, 'c', 'down')).toBeNull();
    expect(neighbourMove(tasks, 'a', 'right')).toEqual({ status: 'doing', after: null });
    expect(neighbourMove(tasks, 'a', 'left')).toBeNull();
  });

  it('upserts', () => {
    expect(upsert(tasks, t('a', 'done', 1)).find((x) => x.id === 'a')?.status).toBe('done');
    expect(upsert(tasks, t('z', 'todo', 1))).toHaveLength(5);
  });

  it('buckets due dates', () => {
    expect(dueBucket(t('a', 'todo', 0, { due_on: '2026-11-24' }), '2026-11-25')).toBe('overdue');
    expect(dueBucket(t('a', 'todo', 0, { due_on: '2026-11-25' }), '2026-11-25')).toBe('soon');
    expect(dueBucket(t('a', 'todo', 0, { due_on: '2026-12-02' }), '2026-11-25')).toBe('soon');
    expect(dueBucket(t('a', 'todo', 0, { due_on: '2026-12-03' }), '2026-11-25')).toBe('later');
    expect(dueBucket(t('a', 'todo', 0), '2026-11-25')).toBe('none');
  });
});
