import { describe, expect, it } from 'vitest';
import { describeChanges } from './changes';

describe('describeChanges', () => {
  it('summarises field changes', () => {
    expect(
      describeChanges('updated', { assignee_id: { from: null, to: 'u1' }, due_on: { from: null, to: '2026-12-01' } }, { u1: 'Bob' }),
    ).toEqual(['assignee: none → Bob', 'due date: none → 2026-12-01']);
    expect(describeChanges('moved', { position: { from: 1, to: 2 } })).toEqual(['reordered the task']);
    expect(describeChanges('created', { title: 'x' })).toEqual(['created the task']);
    expect(describeChanges('updated', { description: { from: 'a', to: 'b' } })).toEqual(['changed the description']);
  });
});
