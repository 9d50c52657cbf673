// A message and its replies (GET messages/{id}/replies), with a composer that replies to it: a
// panel beside the room (on a narrow screen it takes the screen, with a back button).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import type { Member, Message, Room, StreamMessage } from '../../api/types';
import * as ob from '../../chat/outbox';
import { normaliseMessage } from '../../chat/timeline';
import { timeOf } from '../../lib/format';
import { me, onFrames, outbox } from '../../state/store';
import { describeError } from '../../api/errors';
import { startRequest } from '../assistant/AssistantPanel';
import { ErrorText, useLoad } from '../common';
import { Body } from './MessageItem';
import { Composer } from './Composer';

export function ThreadPanel({ root, room, members, onClose }: { root: Message; room: Room; members: Member[]; onClose: () => void }) {
  const user = me.value!;
  const head = useRef<HTMLHeadingElement>(null);
  useEffect(() => head.current?.focus(), []);
  const replies = useLoad(() => api.replies(root.id, { limit: 200 }), [root.id]);
  useEffect(
    () =>
      onFrames((f) => {
        const m = f.data?.message as StreamMessage | undefined;
        if (m && m.reply_to === root.id && replies.data) {
          const list = replies.data.messages.filter((x) => x.id !== m.id);
          replies.set({ ...replies.data, messages: [...list, normaliseMessage(m, user.id)].sort((a, b) => a.seq - b.seq) });
        }
      }),
    [replies.data],
  );
  const list = replies.data?.messages ?? [];
  const pending = ob.visible(outbox.value, room.id, null, list).filter((p) => p.reply_to === root.id);
  const [extractError, setExtractError] = useState('');
  const extract = () => {
    const ids = [root.id, ...list.filter((m) => !m.deleted_at).map((m) => m.id)].slice(-50);
    startRequest(room.id, () => api.extractTasks(room.id, ids)).then(onClose, (e) => setExtractError(describeError(e)));
  };
  return (
    <aside class="thread-panel" aria-label="Thread" onKeyDown={(e) => e.key === 'Escape' && !e.defaultPrevented && onClose()}>
      <header class="thread-head">
        <button type="button" class="small thread-back" onClick={onClose}>← Back to {room.name || 'the room'}</button>
        <h2 ref={head} tabIndex={-1}>Thread</h2>
        <button type="button" class="icon close thread-close" onClick={onClose} aria-label="Close thread">✕</button>
      </header>
      <div class="thread">
        <div class="thread-root">
          <strong>{root.author_display_name}</strong> <span class="muted">{timeOf(root.created_at)}</span>
          <p class="body"><Body text={root.body} /></p>
        </div>
        <ErrorText error={replies.error} />
        {replies.loading && <p class="muted">Loading replies…</p>}
        {replies.data?.has_more && <p class="muted">Older replies are not shown.</p>}
        <ul class="plain">
          {list.map((m) => (
            <li key={m.id} class="thread-reply">
              <strong>{m.author_display_name}</strong> <span class="muted">{timeOf(m.created_at)}</span>
              <p class="body">{m.deleted_at ? <em class="muted">deleted</em> : <Body text={m.body} />}</p>
            </li>
          ))}
          {pending.map((p) => (
            <li key={p.client_id} class="thread-reply pending">
              <p class="body">{p.body}</p>
              <span class="muted small">{p.state === 'failed' ? `Not sent: ${p.error}` : 'Sending…'}</span>
            </li>
          ))}
        </ul>
        <div class="row">
          <button type="button" class="small" onClick={extract} disabled={replies.loading}>Extract tasks from this thread</button>
          {extractError && <span class="error-inline small">{extractError}</span>}
        </div>
        <Composer roomId={room.id} threadId={root.id} members={members} replyTo={root} placeholder="Reply…" />
      </div>
    </aside>
  );
}
