// The assistant panel: ask about one room or everything you can see, watch the answer stream in
// with citations, and see summaries and proposed tasks. In a room it sits beside the chat; the
// `#/assistant` screen is the same panel across all rooms.
import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import type { AssistantRequest, Member, Room } from '../../api/types';
import {
  canRetry, isFinished, ordered, statusText, upsert, type LiveRequest,
} from '../../assistant/requests';
import { isLive } from '../../state/live';
import { assistant } from '../../state/store';
import { ErrorText } from '../common';
import { CitedText, Sources } from './Answer';
import { Proposals } from './Proposals';

/** The room whose panel is open (null: closed). */
export const panelRoom = signal<string | null>(null);

export function track(r: AssistantRequest): void {
  assistant.value = upsert(assistant.value, r);
}

/** Starts a request from anywhere (room header, selection bar, thread) and opens the panel. */
export async function startRequest(roomId: string | null, start: () => Promise<{ request: AssistantRequest }>): Promise<void> {
  const { request } = await start();
  track(request);
  if (roomId) panelRoom.value = roomId;
}

const KIND_LABEL = { ask: 'Question', summary: 'Summary', extract: 'Tasks from messages' } as const;

/** Fetches the request now and then while it is unfinished, in case its frames were missed. */
function useCatchUp(r: LiveRequest): void {
  useEffect(() => {
    if (isFinished(r)) return;
    const t = setInterval(() => {
      api.assistantRequest(r.id).then(track, () => {});
    }, isLive() ? 10_000 : 3_000);
    return () => clearInterval(t);
  }, [r.id, r.status]);
}

function RequestView({ r, members, onRetry }: { r: LiveRequest; members: Member[]; onRetry: (r: LiveRequest) => void }) {
  useCatchUp(r);
  const finished = isFinished(r);
  return (
    <article class={`ask-item ask-${r.status}`} aria-busy={!finished} data-request={r.id}>
      <header class="muted small">
        {KIND_LABEL[r.kind]}
        {!r.room && r.kind === 'ask' ? ' · all rooms' : ''}
        {r.post ? ' · posted to the room' : ''}
      </header>
      {r.kind === 'ask' && <p class="question">{r.question}</p>}
      {r.streamed && r.kind !== 'extract' && (
        <p class="answer" aria-live="polite">
          <CitedText text={r.streamed} citations={r.citations} />
          {!finished && <span class="caret" aria-hidden="true">▍</span>}
        </p>
      )}
      {!finished && !r.streamed && <p class="muted">{statusText(r)}</p>}
      {r.status === 'failed' && (
        <p class="error" role="alert">
          {statusText(r)}{' '}
          {canRetry(r) && (
            <button type="button" class="linkish small" onClick={() => onRetry(r)}>Try again</button>
          )}
        </p>
      )}
      {r.kind === 'extract' ? <Proposals request={r} members={members} /> : finished && <Sources citations={r.citations} />}
    </article>
  );
}

export function AssistantPanel({ room, members = [], onClose }: { room?: Room; members?: Member[]; onClose?: () => void }) {
  const [question, setQuestion] = useState('');
  const [scope, setScope] = useState<'room' | 'all'>(room ? 'room' : 'all');
  const [post, setPost] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.assistantRequests(20).then(({ requests }) => {
      let map = assistant.value;
      for (const r of requests) map = upsert(map, r);
      assistant.value = map;
    }, setError);
  }, []);

  const ask = async (text: string, roomId: string | null, toRoom: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await startRequest(null, () => api.ask(text, roomId, toRoom));
      setQuestion('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e?: Event) => {
    e?.preventDefault();
    const text = question.trim();
    if (!text) {
      setError(new Error('Type a question first.'));
      return;
    }
    const roomId = room && scope === 'room' ? room.id : null;
    void ask(text, roomId, roomId !== null && post);
  };
  const retry = (r: LiveRequest) => {
    if (r.kind === 'ask') void ask(r.question, r.room ?? null, r.post);
    else if (r.kind === 'summary' && r.room) void startRequest(null, () => api.summarise(r.room!)).catch(setError);
  };

  const list = ordered(assistant.value).filter((r) => !room || r.room === room.id || (!r.room && r.kind === 'ask'));
  return (
    <aside class="assistant" aria-label="Assistant">
      <header class="assistant-head">
        <h2>Assistant</h2>
        {onClose && (
          <button type="button" class="icon small" onClick={onClose} aria-label="Close the assistant">✕</button>
        )}
      </header>
      <form class="ask-form" onSubmit={submit}>
        <textarea
          aria-label="Ask the assistant"
          placeholder={room && scope === 'room' ? `Ask about ${room.name}…` : 'Ask about anything in your rooms…'}
          value={question}
          maxLength={2000}
          rows={2}
          onInput={(e) => setQuestion((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) submit(e);
          }}
        />
        {room && (
          <div class="row small">
            <label class="inline">
              <input type="radio" name="scope" checked={scope === 'room'} onChange={() => setScope('room')} /> This room
            </label>
            <label class="inline">
              <input type="radio" name="scope" checked={scope === 'all'} onChange={() => setScope('all')} /> All my rooms
            </label>
            {scope === 'room' && (
              <label class="inline">
                <input type="checkbox" checked={post} onChange={(e) => setPost((e.target as HTMLInputElement).checked)} /> Post the answer here
              </label>
            )}
          </div>
        )}
        <ErrorText error={error} />
        <button type="submit" class="primary small" disabled={busy}>{busy ? 'Asking…' : 'Ask'}</button>
      </form>
      <div class="ask-list">
        {list.length === 0 && (
          <p class="muted small">
            Answers come from your team's messages and tasks, with numbered links to their sources. Only rooms you are in are searched.
          </p>
        )}
        {list.map((r) => (
          <RequestView key={r.id} r={r} members={members} onRetry={retry} />
        ))}
      </div>
    </aside>
  );
}
