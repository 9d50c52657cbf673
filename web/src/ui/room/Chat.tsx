// A room's conversation: a window of at most MAX messages, paged backwards (and forwards after a
// jump) as the user scrolls, live events, pending sends, typing and the "new messages" divider.
import { Fragment } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import type { Member, Message, Room } from '../../api/types';
import * as ob from '../../chat/outbox';
import { firstSeq, fromPage, lastSeq, trim, withNewer, withOlder } from '../../chat/timeline';
import { dayOf } from '../../lib/format';
import { discardSend, markRoomRead, retrySend } from '../../state/live';
import { navigate, route } from '../../state/router';
import { me, outbox, timelineOf, typing } from '../../state/store';
import { describeError } from '../../api/errors';
import { startRequest } from '../assistant/AssistantPanel';
import { ErrorText } from '../common';
import { TaskFormDialog } from '../tasks/TaskForm';
import { Composer } from './Composer';
import { MessageItem, type MessageActions } from './MessageItem';
import { ThreadPanel } from './Thread';
import { UnreadBar } from './UnreadBar';
import { deleting } from '../../state/undo';

const PAGE = 50;
const MAX = 300;

export function Chat({ room, members }: { room: Room; members: Member[] }) {
  const tlSig = timelineOf(room.id);
  const tl = tlSig.value;
  const user = me.value!;
  const listRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const anchor = useRef<{ id: string; offset: number } | null>(null);
  const busy = useRef({ older: false, newer: false });
  const [error, setError] = useState<unknown>(null);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [taskFrom, setTaskFrom] = useState<Message | null>(null);
  const [thread, setThread] = useState<Message | null>(null);
  /** The message Up-arrow asked to edit, until its editor opens. */
  const [editId, setEditId] = useState<string | null>(null);
  const [highlight, setHighlight] = useState<number | null>(null);
  /** Messages picked for "Extract tasks" (null: not selecting). */
  const [selection, setSelection] = useState<string[] | null>(null);
  const [extractError, setExtractError] = useState('');
  const [divider] = useState<number | null>(() => (room.unread_count > 0 ? room.last_read_seq : null));
  const [atBottom, setAtBottom] = useState(true);
  // --- first unread (flow): the room opens there; a bar offers to go back to it
  const [unreadAtOpen] = useState(room.unread_count);
  const [unreadAbove, setUnreadAbove] = useState(false);
  const unreadDone = useRef(false);
  /** The window was loaded around the first unread, not at the latest messages. */
  const openedAtUnread = useRef(false);
  const firstLoad = useRef(true);
  // --- end first unread
  const jump = route.value.query.get('m');
  const jumpSeq = jump && /^\d+$/.test(jump) ? Number(jump) : null;
  const lastTop = useRef(0);
  const pendingScroll = useRef<'bottom' | 'divider' | number | null>(null);

  const set = (next: typeof tl) => (tlSig.value = next);

  const captureAnchor = () => {
    const list = listRef.current;
    if (!list) return;
    for (const el of Array.from(list.querySelectorAll<HTMLElement>('[data-id]'))) {
      if (el.offsetTop + el.offsetHeight > list.scrollTop) {
        anchor.current = { id: el.dataset.id!, offset: el.offsetTop - list.scrollTop };
        return;
      }
    }
  };

  const loadLatest = useCallback(async () => {
    const first = firstLoad.current;
    firstLoad.current = false;
    try {
      const page = await api.messages(room.id, { limit: PAGE });
      if (first && divider !== null && page.has_more && (page.messages[0]?.seq ?? 0) > divider + 1) {
        openedAtUnread.current = true; // the first unread is older than this page: open there instead
        return void (await loadAround(divider, 'divider'));
      }
      stick.current = true;
      pendingScroll.current = divider !== null ? 'divider' : 'bottom';
      tlSig.value = { ...fromPage(page, user.id), loaded: true };
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [room.id]);

  const loadAround = useCallback(async (seq: number, scroll: 'message' | 'divider' = 'message') => {
    try {
      const [older, newer] = await Promise.all([
        api.messages(room.id, { before: seq + 1, limit: 30 }),
        api.messages(room.id, { after: seq, limit: 30 }),
      ]);
      let next = fromPage(older, user.id, newer.has_more);
      next = withNewer(next, newer, user.id);
      stick.current = false;
      pendingScroll.current = scroll === 'divider' ? 'divider' : seq;
      tlSig.value = { ...next, loaded: true };
      if (scroll === 'message') setHighlight(seq);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [room.id]);

  useEffect(() => {
    if (jumpSeq !== null) void loadAround(jumpSeq);
    else if (!tl.loaded || (tl.hasNewer && !openedAtUnread.current)) void loadLatest();
    else pendingScroll.current = divider !== null ? 'divider' : 'bottom';
  }, [jumpSeq, tl.loaded]);

  const loadOlder = async () => {
    if (busy.current.older || !tl.hasOlder || !tl.loaded) return;
    busy.current.older = true;
    try {
      const page = await api.messages(room.id, { before: firstSeq(tl) || undefined, limit: PAGE });
      captureAnchor();
      set({ ...trim(withOlder(tlSig.value, page, user.id), MAX, 'top'), loaded: true });
    } catch (e) {
      setError(e);
    } finally {
      busy.current.older = false;
    }
  };

  const loadNewer = async () => {
    if (busy.current.newer || !tl.hasNewer) return;
    busy.current.newer = true;
    try {
      const page = await api.messages(room.id, { after: lastSeq(tl), limit: PAGE });
      captureAnchor();
      set({ ...trim(withNewer(tlSig.value, page, user.id), MAX, 'bottom'), loaded: true });
    } catch (e) {
      setError(e);
    } finally {
      busy.current.newer = false;
    }
  };

  const jumpToLatest = () => {
    if (jumpSeq !== null) navigate(`/r/${room.id}`);
    openedAtUnread.current = false;
    if (tl.hasNewer) void loadLatest();
    else {
      stick.current = true;
      const list = listRef.current;
      if (list) list.scrollTop = list.scrollHeight;
    }
  };

  const readIfVisible = () => {
    if (stick.current && !tlSig.value.hasNewer && document.visibilityState === 'visible') markRoomRead(room.id);
  };

  const onScroll = () => {
    const list = listRef.current;
    if (!list) return;
    const fromBottom = list.scrollHeight - list.scrollTop - list.clientHeight;
    stick.current = fromBottom < 40 && !tl.hasNewer;
    setAtBottom(stick.current);
    const down = list.scrollTop > lastTop.current;
    lastTop.current = list.scrollTop;
    // Page in the direction the user scrolls, so a short window never pages both ways at once.
    if (!down && list.scrollTop < 400) void loadOlder();
    else if (down && fromBottom < 400) void loadNewer();
    readIfVisible();
    checkUnreadAbove();
  };

  /** Whether the first unread message is above what the user sees (or not loaded at all). */
  const checkUnreadAbove = () => {
    const list = listRef.current;
    if (!list || divider === null || unreadDone.current) return setUnreadAbove(false);
    const d = list.querySelector<HTMLElement>('.divider');
    const cur = tlSig.value;
    setUnreadAbove(d ? d.offsetTop + d.offsetHeight < list.scrollTop : cur.loaded && cur.hasOlder && firstSeq(cur) > divider + 1);
  };

  const jumpToUnread = () => {
    unreadDone.current = true;
    setUnreadAbove(false);
    const d = listRef.current?.querySelector<HTMLElement>('.divider');
    if (d && listRef.current) listRef.current.scrollTop = Math.max(0, d.offsetTop - 40);
    else if (divider !== null) {
      openedAtUnread.current = true;
      void loadAround(divider, 'divider');
    }
  };

  /** Up-arrow in the empty composer: the newest message of ours that can still be edited. */
  const editLast = () => {
    const mine = tlSig.value.messages.filter((m) => m.author_id === user.id && m.kind === 'user' && !m.deleted_at && !deleting.value.has(m.id));
    const last = mine[mine.length - 1];
    if (!last) return;
    setEditId(last.id);
    listRef.current?.querySelector<HTMLElement>(`[data-id="${last.id}"]`)?.scrollIntoView({ block: 'nearest' });
  };

  const pending = ob.visible(outbox.value, room.id, null, tl.messages);

  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    const want = pendingScroll.current;
    pendingScroll.current = null;
    if (typeof want === 'number') {
      list.querySelector<HTMLElement>(`[data-seq="${want}"]`)?.scrollIntoView({ block: 'center' });
    } else if (want === 'divider') {
      const d = list.querySelector<HTMLElement>('.divider');
      if (d) {
        list.scrollTop = Math.max(0, d.offsetTop - 40);
        stick.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      } else list.scrollTop = list.scrollHeight;
    } else if (want === 'bottom' || stick.current) {
      list.scrollTop = list.scrollHeight;
    } else if (anchor.current) {
      const el = list.querySelector<HTMLElement>(`[data-id="${anchor.current.id}"]`);
      if (el) list.scrollTop = el.offsetTop - anchor.current.offset;
    }
    anchor.current = null;
    // Live messages at the bottom: keep the window bounded.
    if (stick.current && tl.messages.length > MAX + PAGE) set({ ...trim(tl, MAX, 'bottom'), loaded: true });
    // A short window does not scroll: fetch more so the user can.
    if (tl.loaded && tl.hasOlder && tl.messages.length < MAX && list.scrollHeight <= list.clientHeight + 10) void loadOlder();
    readIfVisible();
    checkUnreadAbove();
  }, [tl, pending.length]);

  useEffect(() => {
    const onVis = () => readIfVisible();
    document.addEventListener('visibilitychange', onVis);
    return () => document.removeEventListener('visibilitychange', onVis);
  }, [room.id]);

  const byId = useMemo(() => new Map(tl.messages.map((m) => [m.id, m])), [tl.messages]);

  const actions: MessageActions = useMemo(
    () => ({
      onReply: (m) => setReplyTo(m),
      onMakeTask: (m) => setTaskFrom(m),
      onShowThread: (m) => setThread(m),
      onEditOpened: () => setEditId(null),
      onSelect: (m) =>
        setSelection((cur) => {
          const list = cur ?? [];
          return list.includes(m.id) ? list.filter((id) => id !== m.id) : [...list, m.id];
        }),
      onUpdated: (m) => {
        const cur = tlSig.value;
        tlSig.value = { ...cur, messages: cur.messages.map((x) => (x.id === m.id ? { ...m, reply_count: x.reply_count } : x)) };
      },
      onJump: (id) => {
        const el = listRef.current?.querySelector<HTMLElement>(`[data-id="${id}"]`);
        if (el) {
          el.scrollIntoView({ block: 'center' });
          setHighlight(Number(el.dataset.seq));
        } else
          void api.message(id).then(
            (m) => navigate(`/r/${room.id}?m=${m.seq}`),
            (e) => setError(e),
          );
      },
    }),
    [room.id],
  );

  const typists = Object.entries(typing.value[room.id] ?? {})
    .filter(([id]) => id !== user.id)
    .map(([, t]) => t.username);
  const canModerate = room.kind === 'group' && room.role === 'owner';
  let dividerShown = false;

  return (
    <>
    <div class="chat">
      {unreadAbove && (
        <UnreadBar
          count={unreadAtOpen}
          onJump={jumpToUnread}
          onDismiss={() => ((unreadDone.current = true), setUnreadAbove(false))}
        />
      )}
      <div class="msg-list" ref={listRef} onScroll={onScroll} role="log" aria-label={`Messages in ${room.name}`} aria-live="polite" tabIndex={0}>
        {tl.loaded && !tl.hasOlder && <p class="muted center pad">This is the beginning of the conversation.</p>}
        {tl.loaded && tl.hasOlder && <p class="muted center pad">Loading older messages…</p>}
        {!tl.loaded && !error && <p class="muted center pad">Loading…</p>}
        <ErrorText error={error} />
        {tl.messages.map((m, i) => {
          const prev = tl.messages[i - 1];
          const newDay = !prev || dayOf(prev.created_at) !== dayOf(m.created_at);
          const showDivider = divider !== null && !dividerShown && m.seq > divider && m.author_id !== user.id && m.kind === 'user';
          if (showDivider) dividerShown = true;
          const compact =
            !newDay && !showDivider && !!prev && prev.kind === 'user' && m.kind === 'user' && prev.author_id === m.author_id &&
            !m.reply_to && Date.parse(m.created_at) - Date.parse(prev.created_at) < 5 * 60_000;
          return (
            <Fragment key={m.id}>
              {newDay && <div class="day" role="separator"><span>{dayOf(m.created_at)}</span></div>}
              {showDivider && <div class="divider" role="separator"><span>New messages</span></div>}
              <MessageItem
                message={m}
                parent={m.reply_to ? byId.get(m.reply_to) ?? null : null}
                compact={compact}
                meId={user.id}
                canModerate={canModerate}
                actions={actions}
                highlight={highlight === m.seq}
                selected={selection === null || m.kind === 'system' ? null : selection.includes(m.id)}
                editNow={editId === m.id}
              />
            </Fragment>
          );
        })}
        {!tl.hasNewer &&
          pending.map((p) => (
            <div class={`msg mine pending pending-${p.state}`} key={p.client_id} data-client-id={p.client_id}>
              <div class="msg-main">
                <p class="body">{p.body}</p>
                <p class="muted small">
                  {p.state === 'failed' ? (
                    <>
                      <span class="error-inline">Not sent: {p.error}</span>{' '}
                      <button class="linkish small" onClick={() => retrySend(p.client_id)}>Retry</button>{' '}
                      <button class="linkish small" onClick={() => discardSend(p.client_id)}>Discard</button>
                    </>
                  ) : p.state === 'acked' ? 'Sent' : 'Sending…'}
                </p>
              </div>
            </div>
          ))}
        {tl.hasNewer && <p class="muted center pad">Loading newer messages…</p>}
      </div>
      {(!atBottom || tl.hasNewer) && tl.loaded && (
        <button class="jump-latest" onClick={jumpToLatest}>Jump to latest ↓</button>
      )}
      {selection !== null && (
        <div class="select-bar" role="region" aria-label="Selected messages">
          <span class="grow">
            {selection.length === 0 ? 'Tick the messages to turn into tasks.' : `${selection.length} selected`}
            {extractError && <span class="error-inline"> {extractError}</span>}
          </span>
          <button
            class="primary small"
            disabled={selection.length === 0 || selection.length > 50}
            title={selection.length > 50 ? 'At most 50 messages' : undefined}
            onClick={() =>
              startRequest(room.id, () => api.extractTasks(room.id, selection)).then(
                () => (setSelection(null), setExtractError('')),
                (e) => setExtractError(describeError(e)),
              )
            }
          >
            Extract tasks
          </button>
          <button class="small" onClick={() => (setSelection(null), setExtractError(''))}>Cancel</button>
        </div>
      )}
      <p class="typing" aria-live="polite">
        {typists.length === 1 ? `${typists[0]} is typing…` : typists.length > 1 ? `${typists.join(', ')} are typing…` : ' '}
      </p>
      <Composer
        roomId={room.id}
        members={members}
        replyTo={replyTo}
        onCancelReply={() => setReplyTo(null)}
        onSent={() => {
          if (tl.hasNewer || jumpSeq !== null) jumpToLatest();
          stick.current = true;
        }}
        onEditLast={editLast}
      />
      {taskFrom && <TaskFormDialog roomId={room.id} members={members} source={taskFrom} onClose={() => setTaskFrom(null)} />}
    </div>
    {thread && <ThreadPanel key={thread.id} root={thread} room={room} members={members} onClose={() => setThread(null)} />}
    </>
  );
}
