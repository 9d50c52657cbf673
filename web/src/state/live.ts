// Wires the stream into the store: one StreamSocket per logged-in page.
import { api } from '../api/endpoints';
import { describeError } from '../api/errors';
import type { Frame, Message, PresenceStatus } from '../api/types';
import { applyAssistantFrame } from '../assistant/requests';
import * as ob from '../chat/outbox';
import { applyToRooms, markRead } from '../chat/rooms';
import { applyFrame } from '../chat/timeline';
import { StreamSocket, streamUrl } from '../stream/socket';
import { SeqTracker } from '../stream/tracker';
import {
  assistant, cachedTimeline, conn, frameListeners, friendsVersion, me, members, outbox, presence, resetTimeline, rooms, toast, typing,
} from './store';

let socket: StreamSocket | null = null;
let sessionEnded: (() => void) | null = null;

/** session.ts registers what to do when the socket says the session is over (4401). */
export function onStreamSessionEnded(fn: () => void): void {
  sessionEnded = fn;
}
let saveTimer: ReturnType<typeof setTimeout> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;

const seqKey = (userId: string) => `flowly.seqs.${userId}`;

function loadSeqs(userId: string): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(seqKey(userId)) ?? '{}') ?? {};
  } catch {
    return {};
  }
}

function saveSeqs(userId: string, seqs: Record<string, number>): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = null;
    try {
      localStorage.setItem(seqKey(userId), JSON.stringify(seqs));
    } catch {
      /* storage full or disabled */
    }
  }, 1000);
}

export async function refreshRooms(): Promise<void> {
  try {
    rooms.value = await api.rooms();
  } catch (e) {
    toast(describeError(e), 'error');
  }
}

/** Many events at once (a replay) cause one refresh. */
function refreshRoomsSoon(): void {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    void refreshRooms();
  }, 300);
}

export async function refreshMembers(roomId: string): Promise<void> {
  try {
    const list = await api.members(roomId);
    members.value = { ...members.value, [roomId]: list };
    // Members of a large room are not told each other's presence live: the list says where
    // everyone was when it was read.
    const seen = list.filter((m) => m.presence).map((m) => [m.user_id, m.presence as PresenceStatus]);
    if (seen.length) presence.value = { ...presence.value, ...Object.fromEntries(seen) };
  } catch {
    /* the room screen shows its own errors */
  }
}

export function startStream(): void {
  const user = me.value;
  if (!user || socket) return;
  const tracker = new SeqTracker(loadSeqs(user.id));
  socket = new StreamSocket({
    url: streamUrl(),
    tracker,
    maxReplay: 2000,
    handlers: {
      onPlan: (plan) => {
        for (const room of [...plan.stale, ...plan.gone]) resetTimeline(room);
        if (plan.gone.length) refreshRoomsSoon();
      },
      onFrame: (frame) => handleFrame(frame),
      onResumed: () => {
        void refreshRooms();
        friendsVersion.value++;
        resendPending();
      },
      onState: (state, detail) => {
        conn.value = { state, ...detail };
      },
      onSessionEnded: () => {
        toast('Your session has ended. Please log in again.', 'error', 8000);
        sessionEnded?.();
      },
      onSeqs: (seqs) => saveSeqs(user.id, seqs),
    },
  });
  socket.userId = user.id;
  socket.start();
}

export function stopStream(): void {
  socket?.stop();
  socket = null;
}

/** For the end-to-end run: drop the socket as a network failure would. */
export function dropSocketForTest(): void {
  (socket as unknown as { ws: { close(code: number, reason: string): void } | null } | null)?.ws?.close(4002, 'test drop');
}

export function reconnectNow(): void {
  socket?.reconnectNow();
}

export function sendFrame(frame: Record<string, unknown>): boolean {
  return socket?.send(frame) ?? false;
}

export function isLive(): boolean {
  return socket?.isLive ?? false;
}

function handleFrame(frame: Frame): void {
  const user = me.value;
  if (!user) return;
  const data = frame.data ?? {};
  if (typeof frame.seq === 'number' && frame.room) {
    rooms.value = applyToRooms(rooms.value, frame, user.id, user.username);
    const tl = cachedTimeline(frame.room);
    if (tl && tl.value.loaded) tl.value = { ...applyFrame(tl.value, frame, user.id), loaded: true };
    const msg = data.message as Message | undefined;
    if (frame.type === 'message.created' && msg) outbox.value = ob.reconcile(outbox.value, msg, user.id);
    if (frame.type === 'message.created' && msg?.author_id) clearTyping(frame.room, msg.author_id);
    if (frame.type.startsWith('member.') || frame.type.startsWith('room.')) {
      const affected = msg?.data?.user_id;
      if ((frame.type === 'member.left' || frame.type === 'member.removed') && affected === user.id) {
        rooms.value = rooms.value.filter((r) => r.id !== frame.room);
      } else {
        refreshRoomsSoon();
        void refreshMembers(frame.room);
      }
    }
    if (!rooms.value.some((r) => r.id === frame.room)) refreshRoomsSoon();
    for (const fn of frameListeners) fn(frame);
    return;
  }
  switch (frame.type) {
    case 'ack':
      outbox.value = ob.acked(outbox.value, data.client_id, data.id);
      return;
    case 'error':
      if (data.client_id) outbox.value = ob.failed(outbox.value, data.client_id, errorText(data));
      else if (data.code !== 'frame_rate_limited') console.warn('stream error', data.code, data.message);
      return;
    case 'read.updated':
      if (frame.room && data.user_id === user.id) rooms.value = markRead(rooms.value, frame.room, data.last_read_seq);
      else if (frame.room) updateMemberRead(frame.room, data.user_id, data.last_read_seq);
      return;
    case 'typing.started':
      if (frame.room) setTyping(frame.room, data.user_id, data.username, data.expires_in_ms ?? 6000);
      return;
    case 'typing.stopped':
      if (frame.room) clearTyping(frame.room, data.user_id);
      return;
    case 'presence':
      presence.value = { ...presence.value, [data.user_id]: data.status };
      return;
    case 'presence.snapshot': {
      const next: Record<string, any> = {};
      for (const u of data.users ?? []) next[u.user_id] = u.status;
      presence.value = next;
      return;
    }
    case 'friend.request':
      toast('You have a new friend request.');
      friendsVersion.value++;
      return;
    case 'friend.answered':
      if (data.request?.status === 'accepted') toast('Your friend request was accepted.');
      friendsVersion.value++;
      return;
    case 'friend.cancelled':
      friendsVersion.value++;
      return;
    case 'assistant.status':
    case 'assistant.delta':
    case 'assistant.done':
    case 'assistant.error':
      assistant.value = applyAssistantFrame(assistant.value, frame);
      return;
  }
}

function errorText(data: { code?: string; message?: string }): string {
  if (data.code === 'rate_limited') return 'Sending too fast. Wait a moment, then retry.';
  return data.message ? data.message[0].toUpperCase() + data.message.slice(1) : data.code ?? 'Failed';
}

function updateMemberRead(roomId: string, userId: string, seq: number): void {
  const list = members.value[roomId];
  if (!list) return;
  members.value = { ...members.value, [roomId]: list.map((m) => (m.user_id === userId ? { ...m, last_read_seq: seq } : m)) };
}

function setTyping(room: string, userId: string, username: string, ttl: number): void {
  const inRoom = { ...(typing.value[room] ?? {}), [userId]: { username, until: Date.now() + ttl } };
  typing.value = { ...typing.value, [room]: inRoom };
}

function clearTyping(room: string, userId: string): void {
  const inRoom = typing.value[room];
  if (!inRoom || !inRoom[userId]) return;
  const { [userId]: _gone, ...rest } = inRoom;
  typing.value = { ...typing.value, [room]: rest };
}

/** Drop typing indicators whose time ran out (no typing.stopped came). */
export function pruneTyping(now = Date.now()): void {
  let changed = false;
  const next: typeof typing.value = {};
  for (const [room, users] of Object.entries(typing.value)) {
    const kept: Record<string, { username: string; until: number }> = {};
    for (const [id, t] of Object.entries(users)) {
      if (t.until > now) kept[id] = t;
      else changed = true;
    }
    next[room] = kept;
  }
  if (changed) typing.value = next;
}

// ----- sending -----

export function sendMessage(roomId: string, body: string, replyTo: string | null, taskId: string | null = null): void {
  const clientId = ob.newClientId();
  outbox.value = ob.add(outbox.value, { client_id: clientId, room_id: roomId, task_id: taskId, body, reply_to: replyTo });
  void deliver(clientId);
}

export function retrySend(clientId: string): void {
  outbox.value = ob.retrying(outbox.value, clientId);
  void deliver(clientId);
}

export function discardSend(clientId: string): void {
  outbox.value = ob.discard(outbox.value, clientId);
}

function resendPending(): void {
  for (const p of ob.toResend(outbox.value)) void deliver(p.client_id);
}

async function deliver(clientId: string): Promise<void> {
  const p = outbox.value.find((x) => x.client_id === clientId);
  const user = me.value;
  if (!p || !user) return;
  const frame: Record<string, unknown> = { type: 'send', room: p.room_id, body: p.body, client_id: p.client_id };
  if (p.reply_to) frame.reply_to = p.reply_to;
  if (p.task_id) frame.task = p.task_id;
  if (sendFrame(frame)) return;
  try {
    const msg = p.task_id
      ? await api.sendTaskMessage(p.task_id, p.body, p.client_id, p.reply_to)
      : await api.sendMessage(p.room_id, p.body, p.client_id, p.reply_to);
    outbox.value = ob.acked(outbox.value, clientId, msg.id);
    // The stream delivers the message too; show it now in case the socket is down.
    const tl = cachedTimeline(p.room_id);
    if (tl && tl.value.loaded && !p.task_id) {
      tl.value = { ...applyFrame(tl.value, { type: 'message.created', room: p.room_id, seq: msg.seq, data: { message: msg } }, user.id), loaded: true };
    }
    for (const fn of frameListeners) fn({ type: 'message.created', room: p.room_id, data: { message: msg } });
    outbox.value = ob.reconcile(outbox.value, msg, user.id);
  } catch (e) {
    outbox.value = ob.failed(outbox.value, clientId, describeError(e));
  }
}

/** Every few seconds: sends the socket never answered become failed (retry keeps the client_id). */
export function expirePending(): void {
  outbox.value = ob.expire(outbox.value, Date.now(), 15_000);
}

// ----- read markers and typing -----

const readSent = new Map<string, number>();

export function markRoomRead(roomId: string): void {
  const room = rooms.value.find((r) => r.id === roomId);
  if (!room || room.last_seq <= room.last_read_seq) return;
  const seq = room.last_seq;
  if ((readSent.get(roomId) ?? 0) >= seq) return;
  readSent.set(roomId, seq);
  rooms.value = markRead(rooms.value, roomId, seq);
  if (!sendFrame({ type: 'read', room: roomId, seq })) {
    api.markRead(roomId, seq).catch(() => readSent.delete(roomId));
  }
}

const typingSentAt = new Map<string, number>();

export function sendTyping(roomId: string, active: boolean): void {
  const last = typingSentAt.get(roomId) ?? 0;
  if (active) {
    if (Date.now() - last < 3000) return;
    if (sendFrame({ type: 'typing', room: roomId })) typingSentAt.set(roomId, Date.now());
  } else if (last) {
    typingSentAt.delete(roomId);
    sendFrame({ type: 'typing', room: roomId, active: false });
  }
}
