// Message input: Enter sends, Shift+Enter breaks the line, @ completes room members, typing frames;
// the unsent text is kept as a draft (chat/drafts.ts), Up in an empty box edits your last message.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Member, Message } from '../../api/types';
import { completeMention, matchMembers, mentionAt, type MentionQuery } from '../../lib/mention';
import { sendMessage, sendTyping } from '../../state/live';
import { me } from '../../state/store';
import { draftPlace, Drafts } from '../../chat/drafts';
import { EmojiButton } from '../EmojiPicker';
import { AttachButton, UploadChips, sendWithAttachments, useUploads } from './Attachments';

interface Props {
  roomId: string;
  taskId?: string | null;
  members: Member[];
  replyTo?: Message | null;
  onCancelReply?: () => void;
  onSent?: () => void;
  placeholder?: string;
  /** The thread this composer replies in (its draft is kept apart from the room's). */
  threadId?: string | null;
  /** Up-arrow in an empty composer: edit the user's last message here. */
  onEditLast?: () => void;
}

export function Composer({ roomId, taskId = null, members, replyTo, onCancelReply, onSent, placeholder, threadId = null, onEditLast }: Props) {
  const user = me.value!;
  // --- drafts (flow)
  const drafts = useMemo(() => new Drafts(user.id), [user.id]);
  const place = draftPlace(roomId, { taskId, threadId });
  const [text, setTextState] = useState(() => drafts.get(place));
  const setText = (value: string) => {
    setTextState(value);
    drafts.set(place, value);
  };
  useEffect(() => setTextState(drafts.get(place)), [place]);
  // --- end drafts
  const [mq, setMq] = useState<MentionQuery | null>(null);
  const [sel, setSel] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const candidates = mq ? matchMembers(members.filter((m) => m.user_id !== user.id), mq.query) : [];
  const listId = `mentions-${taskId ?? roomId}`;
  const uploads = useUploads({ room: roomId });

  useEffect(() => {
    if (replyTo) ref.current?.focus();
  }, [replyTo]);
  useEffect(() => () => sendTyping(roomId, false), [roomId]);

  const update = (value: string, caret: number) => {
    setText(value);
    const q = mentionAt(value, caret);
    setMq(q);
    setSel(0);
    if (!taskId) sendTyping(roomId, value.trim().length > 0);
  };

  const pick = (username: string) => {
    const el = ref.current;
    if (!el || !mq) return;
    const r = completeMention(text, mq, el.selectionStart ?? text.length, username);
    setText(r.text);
    setMq(null);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(r.caret, r.caret);
    });
  };

  const submit = () => {
    const body = text.trim();
    if (uploads.busy || (!body && uploads.ready.length === 0)) return;
    if (uploads.ready.length > 0) {
      void sendWithAttachments(roomId, taskId, body, replyTo?.id ?? null, uploads.ready);
      uploads.clear();
    } else sendMessage(roomId, body, replyTo?.id ?? null, taskId);
    if (!taskId) sendTyping(roomId, false);
    setText('');
    setMq(null);
    onCancelReply?.();
    onSent?.();
  };

  const insert = (emoji: string) => {
    const el = ref.current;
    const at = el?.selectionStart ?? text.length;
    const end = el?.selectionEnd ?? at;
    setText(text.slice(0, at) + emoji + text.slice(end));
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at + emoji.length, at + emoji.length);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (candidates.length > 0) {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        setSel((sel + 1) % candidates.length);
        return;
      }
      if (e.key === 'ArrowUp') {
        e.preventDefault();
        setSel((sel - 1 + candidates.length) % candidates.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick(candidates[sel].username);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setMq(null);
        return;
      }
    }
    if (e.key === 'Escape' && replyTo) {
      onCancelReply?.();
      return;
    }
    if (e.key === 'ArrowUp' && !text && onEditLast && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      onEditLast();
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  return (
    <form
      class="composer"
      {...uploads.dropProps}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {replyTo && (
        <div class="reply-bar">
          <span>
            Replying to <strong>{replyTo.author_display_name}</strong>: {replyTo.body.slice(0, 80)}
          </span>
          <button type="button" class="icon small" onClick={onCancelReply} aria-label="Cancel reply">✕</button>
        </div>
      )}
      {candidates.length > 0 && (
        <ul class="mention-list" id={listId} role="listbox" aria-label="Mention someone">
          {candidates.map((m, i) => (
            <li
              key={m.user_id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === sel}
              class={i === sel ? 'selected' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(m.username);
              }}
            >
              <strong>@{m.username}</strong> <span class="muted">{m.display_name}</span>
            </li>
          ))}
        </ul>
      )}
      <UploadChips uploads={uploads} />
      <div class="composer-row">
        <AttachButton uploads={uploads} />
        <textarea
          ref={ref}
          rows={1}
          value={text}
          maxLength={8000}
          placeholder={placeholder ?? 'Write a message… (@ to mention, @flowly to ask the assistant)'}
          aria-label="Message"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={candidates.length > 0}
          aria-controls={candidates.length > 0 ? listId : undefined}
          aria-activedescendant={candidates.length > 0 ? `${listId}-${sel}` : undefined}
          onInput={(e) => {
            const el = e.target as HTMLTextAreaElement;
            update(el.value, el.selectionStart ?? el.value.length);
          }}
          onKeyDown={onKeyDown}
          onPaste={uploads.onPaste}
          onBlur={() => setTimeout(() => setMq(null), 150)}
        />
        <EmojiButton label="Insert emoji" onPick={insert} />
        <button class="primary" type="submit" disabled={uploads.busy || (!text.trim() && uploads.ready.length === 0)}>Send</button>
      </div>
    </form>
  );
}
