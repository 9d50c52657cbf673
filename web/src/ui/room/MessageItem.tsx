// One message: author, body (mentions highlighted), reply link, reactions, and its actions.
import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { describeError } from '../../api/errors';
import type { Citation, Message } from '../../api/types';
import { timeOf, dateTimeOf } from '../../lib/format';
import { href } from '../../state/router';
import { toast } from '../../state/store';
import { deleteWithUndo, deleting } from '../../state/undo';
import { quickEmoji, recentEmoji, rememberEmoji } from '../../lib/emoji';
import { EmojiButton } from '../EmojiPicker';
import { CitedText } from '../assistant/Answer';
import { Avatar } from '../common';
import { AttachmentList } from './Attachments';
import { Markdown } from '../Markdown';

export interface MessageActions {
  onReply(m: Message): void;
  onMakeTask(m: Message): void;
  onUpdated(m: Message): void;
  onShowThread?(m: Message): void;
  onJump?(id: string): void;
  /** Starts (or extends) a selection of messages to extract tasks from. */
  onSelect?(m: Message): void;
  onEditOpened?(): void;
}

interface Props {
  message: Message;
  parent?: Message | null;
  compact: boolean;
  meId: string;
  canModerate: boolean;
  actions: MessageActions;
  highlight?: boolean;
  /** While messages are being selected: whether this one is. */
  selected?: boolean | null;
  /** Open the editor now (Up-arrow in an empty composer); `actions.onEditOpened` acknowledges it. */
  editNow?: boolean;
}

/** A message body as Markdown (mentions and #task references link; see lib/markdown.ts). */
export function Body({ text }: { text: string }) {
  return <Markdown text={text} />;
}

function MessageItemImpl({ message: m, parent, compact, meId, canModerate, actions, highlight, selected, editNow }: Props) {
  const [menu, setMenu] = useState(false);
  const [picker, setPicker] = useState(false);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.body);
  const actionsRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!editNow) return;
    setDraft(m.body);
    setEditing(true);
    actions.onEditOpened?.();
  }, [editNow]);
  useEffect(() => {
    if (!menu) return;
    const close = (e: Event) => {
      if (!actionsRef.current?.contains(e.target as Node)) setMenu(false);
    };
    document.addEventListener('pointerdown', close);
    return () => document.removeEventListener('pointerdown', close);
  }, [menu]);
  const mine = m.author_id === meId;
  const deleted = !!m.deleted_at;
  const system = m.kind === 'system';
  const byAssistant = m.kind === 'assistant';
  const author = byAssistant ? 'Flowly assistant' : m.author_display_name ?? 'Someone';
  const selecting = selected !== null && selected !== undefined;

  const act = async (fn: () => Promise<Message>) => {
    try {
      actions.onUpdated(await fn());
    } catch (e) {
      toast(describeError(e), 'error');
    }
  };
  const toggle = (emoji: string) => {
    const r = m.reactions.find((x) => x.emoji === emoji);
    setPicker(false);
    setMenu(false);
    if (!r?.me) rememberEmoji(meId, emoji);
    void act(() => (r?.me ? api.unreact(m.id, emoji) : api.react(m.id, emoji)));
  };
  const saveEdit = async () => {
    const body = draft.trim();
    if (!body || body === m.body) {
      setEditing(false);
      return;
    }
    await act(() => api.editMessage(m.id, body));
    setEditing(false);
  };
  const remove = () => {
    setMenu(false);
    deleteWithUndo(m, actions.onUpdated);
  };

  if (deleting.value.has(m.id)) return null;

  if (system) {
    const taskId = m.ref_task_id;
    return (
      <div class={`msg msg-system${highlight ? ' highlight' : ''}`} data-id={m.id} data-seq={m.seq}>
        <span class="muted">
          <strong>{m.author_display_name ?? 'Someone'}</strong>{' '}
          {taskId && m.data?.event !== 'task_deleted' ? <a href={href(`/t/${taskId}`)}>{m.body}</a> : m.body}
          {' · '}
          <time dateTime={m.created_at} title={dateTimeOf(m.created_at)}>{timeOf(m.created_at)}</time>
        </span>
      </div>
    );
  }

  return (
    <article
      class={`msg${compact ? ' compact' : ''}${mine ? ' mine' : ''}${highlight ? ' highlight' : ''}${byAssistant ? ' msg-assistant' : ''}`}
      data-id={m.id}
      data-seq={m.seq}
      aria-label={`${author} at ${timeOf(m.created_at)}`}
    >
      {selecting && !deleted && (
        <input
          type="checkbox"
          class="select-box"
          checked={!!selected}
          aria-label={`Select the message from ${author}`}
          onChange={() => actions.onSelect?.(m)}
        />
      )}
      {!compact && <Avatar name={byAssistant ? 'Flowly' : m.author_display_name ?? '?'} userId={m.author_id} />}
      <div class="msg-main">
        {!compact && (
          <header class="msg-head">
            <strong>{author}</strong>
            <time class="muted" dateTime={m.created_at} title={dateTimeOf(m.created_at)}>{timeOf(m.created_at)}</time>
          </header>
        )}
        {m.reply_to && (
          <button type="button" class="reply-ref linkish" onClick={() => actions.onJump?.(m.reply_to!)}>
            ↪ {parent ? <>{parent.author_display_name}: {parent.deleted_at ? 'deleted message' : parent.body.slice(0, 80)}</> : 'reply to an earlier message'}
          </button>
        )}
        {editing ? (
          <form class="edit" onSubmit={(e) => (e.preventDefault(), void saveEdit())}>
            <textarea
              value={draft}
              aria-label="Edit message"
              autoFocus
              onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  void saveEdit();
                }
                if (e.key === 'Escape') setEditing(false);
              }}
            />
            <div class="row">
              <button type="submit" class="primary small">Save</button>
              <button type="button" class="small" onClick={() => setEditing(false)}>Cancel</button>
            </div>
          </form>
        ) : deleted ? (
          <p class="body tombstone">This message was deleted.</p>
        ) : (
          <div class="body md">
            {byAssistant ? <CitedText text={m.body} citations={(m.data?.citations as Citation[] | undefined) ?? []} /> : <Body text={m.body} />}
            {m.edited_at && <span class="muted edited" title={dateTimeOf(m.edited_at)}> (edited)</span>}
          </div>
        )}
        {!deleted && m.attachments && <AttachmentList items={m.attachments} />}
        {(m.reactions.length > 0 || m.reply_count > 0) && (
          <div class="reactions">
            {m.reactions.map((r) => (
              <button
                type="button"
                key={r.emoji}
                class={`reaction${r.me ? ' me' : ''}`}
                aria-pressed={!!r.me}
                aria-label={`${r.emoji} ${r.count}${r.me ? ', including you' : ''}`}
                onClick={() => toggle(r.emoji)}
              >
                {r.emoji} {r.count}
              </button>
            ))}
            {m.reply_count > 0 && actions.onShowThread && (
              <button type="button" class="linkish small" onClick={() => actions.onShowThread!(m)}>
                {m.reply_count} {m.reply_count === 1 ? 'reply' : 'replies'}
              </button>
            )}
          </div>
        )}
      </div>
      {!deleted && (
        <div class="msg-actions" ref={actionsRef}>
          <button
            type="button"
            class="icon small"
            aria-haspopup="menu"
            aria-expanded={menu}
            aria-label="Message actions"
            onClick={() => {
              setMenu(!menu);
              setPicker(false);
            }}
          >
            ⋯
          </button>
          {menu && (
            <div class="menu" role="menu" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
              <button role="menuitem" onClick={() => (setMenu(false), actions.onReply(m))}>Reply</button>
              <button role="menuitem" onClick={() => setPicker(!picker)}>React…</button>
              {picker && (
                <div class="emoji-row">
                  {quickEmoji(recentEmoji(meId)).map((e) => (
                    <button key={e} type="button" class="icon" aria-label={`React ${e}`} onClick={() => toggle(e)}>{e}</button>
                  ))}
                  <EmojiButton label="More emoji" onPick={toggle} />
                </div>
              )}
              <button role="menuitem" onClick={() => (setMenu(false), actions.onMakeTask(m))}>Make task</button>
              {actions.onSelect && (
                <button role="menuitem" onClick={() => (setMenu(false), actions.onSelect!(m))}>Select for tasks…</button>
              )}
              {mine && (
                <button role="menuitem" onClick={() => (setMenu(false), setDraft(m.body), setEditing(true))}>Edit</button>
              )}
              {(mine || canModerate) && (
                <button role="menuitem" class="danger" onClick={remove}>Delete</button>
              )}
            </div>
          )}
        </div>
      )}
    </article>
  );
}

export const MessageItem = memo(MessageItemImpl);
