import { describe, expect, it } from 'vitest';
import type { AssistantRequest, Citation } from '../api/types';
import { answerParts, applyAssistantFrame, citationPath, ordered, upsert, type Requests } from './requests';

const req = (over: Partial<AssistantRequest> = {}): AssistantRequest => ({
  id: 'r1', kind: 'ask', status: 'queued', question: 'when is the launch?', room: 'room1', post: false,
  answer: null, citations: [], proposals: null, error: null, model: null,
  created_at: '2026-11-25T10:00:00Z', finished_at: null, ...over,
});

const cite = (n: number, over: Partial<Citation> = {}): Citation => ({
  n, kind: 'message', id: `m${n}`, room: 'room1', room_name: 'launch', seq: 10 + n, excerpt: 'x',
  author: 'alice', created_at: '2026-11-24T10:00:00Z', ...over,
});

describe('assistant requests', () => {
  it('streams deltas, then the final answer replaces them', () => {
    let map: Requests = upsert({}, req());
    map = applyAssistantFrame(map, { type: 'assistant.status', data: { request: 'r1', status: 'running' } });
    map = applyAssistantFrame(map, { type: 'assistant.delta', data: { request: 'r1', text: 'Friday ' } });
    map = applyAssistantFrame(map, { type: 'assistant.delta', data: { request: 'r1', text: '[1]' } });
    expect(map.r1.status).toBe('running');
    expect(map.r1.streamed).toBe('Friday [1]');
    const done = req({ status: 'done', answer: 'The launch is on Friday [1].', citations: [cite(1)] });
    map = applyAssistantFrame(map, { type: 'assistant.done', data: { request: done } });
    expect(map.r1.streamed).toBe('The launch is on Friday [1].');
    expect(map.r1.citations).toHaveLength(1);
  });

  it('ignores late frames for a finished request and stale snapshots', () => {
    let map: Requests = upsert({}, req({ status: 'done', answer: 'done [1]' }));
    map = applyAssistantFrame(map, { type: 'assistant.delta', data: { request: 'r1', text: 'late' } });
    map = applyAssistantFrame(map, { type: 'assistant.status', data: { request: 'r1', status: 'running' } });
    map = upsert(map, req({ status: 'running' }));
    expect(map.r1.status).toBe('done');
    expect(map.r1.streamed).toBe('done [1]');
  });

  it('marks a failed request with its error', () => {
    let map: Requests = upsert({}, req());
    map = applyAssistantFrame(map, { type: 'assistant.error', data: { request: 'r1', code: 'model_unreachable', message: 'Ollama is not reachable' } });
    expect(map.r1.status).toBe('failed');
    expect(map.r1.error?.code).toBe('model_unreachable');
  });

  it('deltas for unknown requests change nothing', () => {
    const map: Requests = {};
    expect(applyAssistantFrame(map, { type: 'assistant.delta', data: { request: 'zz', text: 'a' } })).toBe(map);
  });

  it('orders newest first', () => {
    let map: Requests = upsert({}, req({ id: 'a', created_at: '2026-11-25T10:00:00Z' }));
    map = upsert(map, req({ id: 'b', created_at: '2026-11-25T11:00:00Z' }));
    expect(ordered(map).map((r) => r.id)).toEqual(['b', 'a']);
  });

  it('splits citation markers, including lists and unknown numbers', () => {
    const parts = answerParts('Friday [1][2]. Owner: bob [1, 3].', [cite(1), cite(2)]);
    expect(parts.map((p) => ('cite' in p ? `#${p.cite}${p.citation ? '' : '?'}` : p.text))).toEqual([
      'Friday ', '#1', '#2', '. Owner: bob ', '#1', '#3?', '.',
    ]);
    expect(answerParts('no citations here', [])).toEqual([{ text: 'no citations here' }]);
  });

  it('links messages into their room at the message, tasks to the task', () => {
    expect(citationPath(cite(1))).toBe('/r/room1?m=11');
    expect(citationPath(cite(1, { kind: 'task', id: 't9' }))).toBe('/t/t9');
    expect(citationPath(cite(1, { seq: null }))).toBe('/r/room1');
  });

  it('links a file to the message that carries it or to its task', () => {
    expect(citationPath(cite(1, { kind: 'attachment', id: 'f1', filename: 'a.pdf' }))).toBe('/r/room1?m=11');
    expect(citationPath(cite(1, { kind: 'attachment', id: 'f1', seq: null, task: 't9' }))).toBe('/t/t9');
  });
});
