// The assistant's requests as the page knows them: REST snapshots merged with the stream's
// assistant.* frames (status, text as it is generated, the final answer, errors).
import type { AssistantRequest, Citation, Frame } from '../api/types';

/** A request plus the text streamed so far (the answer itself once done). */
export interface LiveRequest extends AssistantRequest {
  streamed: string;
}

export type Requests = Record<string, LiveRequest>;

export function live(r: AssistantRequest, streamed = ''): LiveRequest {
  return { ...r, streamed: r.answer ?? streamed };
}

/** Merges a REST snapshot; a finished request wins over a stale stream, not the other way. */
export function upsert(map: Requests, r: AssistantRequest): Requests {
  const cur = map[r.id];
  if (cur && isFinished(cur) && !isFinished(r)) return map;
  return { ...map, [r.id]: live(r, cur?.streamed ?? '') };
}

export function isFinished(r: { status: string }): boolean {
  return r.status === 'done' || r.status === 'failed';
}

/** Applies one assistant.* frame; other frames and unknown requests' deltas leave it unchanged. */
export function applyAssistantFrame(map: Requests, frame: Frame): Requests {
  const data = frame.data ?? {};
  switch (frame.type) {
    case 'assistant.done': {
      const r = data.request as AssistantRequest | undefined;
      return r ? { ...map, [r.id]: live(r) } : map;
    }
    case 'assistant.status': {
      const cur = map[data.request];
      if (!cur || isFinished(cur)) return map;
      return { ...map, [cur.id]: { ...cur, status: data.status } };
    }
    case 'assistant.delta': {
      const cur = map[data.request];
      if (!cur || isFinished(cur) || typeof data.text !== 'string') return map;
      return { ...map, [cur.id]: { ...cur, status: 'running', streamed: cur.streamed + data.text } };
    }
    case 'assistant.error': {
      const cur = map[data.request];
      if (!cur) return map;
      return { ...map, [cur.id]: { ...cur, status: 'failed', error: { code: data.code, message: data.message } } };
    }
    default:
      return map;
  }
}

/** Newest first. */
export function ordered(map: Requests): LiveRequest[] {
  return Object.values(map).sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

export type AnswerPart = { text: string } | { cite: number; citation: Citation | null };

/**
 * Splits an answer into text and citation markers: `[1]`, `[1][2]` and `[1, 2]` all cite.
 * A number without a matching citation stays a marker (shown, not linked).
 */
export function answerParts(text: string, citations: Citation[]): AnswerPart[] {
  const byN = new Map(citations.map((c) => [c.n, c]));
  const parts: AnswerPart[] = [];
  const re = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index) });
    for (const n of m[1].split(',').map((x) => Number(x.trim()))) parts.push({ cite: n, citation: byN.get(n) ?? null });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Where a citation opens: the message in its room, or the task. */
export function citationPath(c: Pick<Citation, 'kind' | 'id' | 'room' | 'seq' | 'task'>): string {
  if (c.kind === 'task') return `/t/${c.id}`;
  // A file: the task it is attached to, or the message that carries it.
  if (c.kind === 'attachment' && c.task) return `/t/${c.task}`;
  return c.seq != null ? `/r/${c.room}?m=${c.seq}` : `/r/${c.room}`;
}

/** What the user sees while a request is on its way. */
export function statusText(r: LiveRequest): string {
  switch (r.status) {
    case 'queued':
      return 'Waiting for the assistant…';
    case 'running':
      return r.kind === 'extract' ? 'Reading the messages…' : r.streamed ? 'Writing…' : 'Searching your rooms…';
    case 'failed':
      return r.error?.message ?? 'The assistant could not answer.';
    default:
      return '';
  }
}

/** Whether asking again can help (a model away or a timeout), as opposed to bad input. */
export function canRetry(r: LiveRequest): boolean {
  return r.status === 'failed' && r.error?.code !== 'empty_question' && r.error?.code !== 'question_too_long';
}
