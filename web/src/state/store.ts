// App-wide state as Preact signals. Screens read these; frames.ts and actions write them.
import { signal, type Signal } from '@preact/signals';
import type { Member, PresenceStatus, Room, User } from '../api/types';
import type { Requests } from '../assistant/requests';
import type { Pending } from '../chat/outbox';
import { EMPTY, type Timeline } from '../chat/timeline';
import type { ConnState } from '../stream/socket';

export const me = signal<User | null>(null);
export const booting = signal(true);
export const rooms = signal<Room[]>([]);
export const conn = signal<{ state: ConnState; retryInMs?: number; reason?: string }>({ state: 'connecting' });
export const presence = signal<Record<string, PresenceStatus>>({});
/** room → user → typing info. */
export const typing = signal<Record<string, Record<string, { username: string; until: number }>>>({});
export const outbox = signal<Pending[]>([]);
export const members = signal<Record<string, Member[]>>({});
/** The assistant requests this page has made or loaded, by id. */
export const assistant = signal<Requests>({});
/** Bumped when friends or requests change (friend.* frames, or after a reconnect). */
export const friendsVersion = signal(0);

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
  /** A button in the toast (e.g. "Undo"); pressing it runs `run` and dismisses the toast. */
  action?: { label: string; run: () => void };
}
export const toasts = signal<Toast[]>([]);
let toastId = 0;
export function toast(text: string, kind: Toast['kind'] = 'info', ms = 5000, action?: Toast['action']): number {
  const id = ++toastId;
  toasts.value = [...toasts.value.slice(-3), { id, text, kind, action }];
  setTimeout(() => dismissToast(id), ms);
  return id;
}
export function dismissToast(id: number): void {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}

/** Loaded timeline windows of the rooms visited, kept while the page lives. */
const timelines = new Map<string, Signal<Timeline & { loaded: boolean }>>();

export function timelineOf(roomId: string): Signal<Timeline & { loaded: boolean }> {
  let s = timelines.get(roomId);
  if (!s) {
    s = signal({ ...EMPTY, loaded: false });
    timelines.set(roomId, s);
  }
  return s;
}

export function cachedTimeline(roomId: string): Signal<Timeline & { loaded: boolean }> | undefined {
  return timelines.get(roomId);
}

/** Forget a room's window (not replayed after a reconnect): the screen loads it again. */
export function resetTimeline(roomId: string): void {
  const s = timelines.get(roomId);
  if (s) s.value = { ...EMPTY, loaded: false };
}

export function clearAll(): void {
  me.value = null;
  rooms.value = [];
  presence.value = {};
  typing.value = {};
  outbox.value = [];
  assistant.value = {};
  members.value = {};
  timelines.clear();
}

export function roomById(id: string | null | undefined): Room | undefined {
  return id ? rooms.value.find((r) => r.id === id) : undefined;
}

export function updateRoom(id: string, fn: (r: Room) => Room): void {
  const i = rooms.value.findIndex((r) => r.id === id);
  if (i < 0) return;
  const next = rooms.value.slice();
  next[i] = fn(next[i]);
  rooms.value = next;
}

/** Listeners for task and task-discussion events (board, task detail, my tasks). */
type FrameListener = (frame: import('../api/types').Frame) => void;
export const frameListeners = new Set<FrameListener>();
export function onFrames(fn: FrameListener): () => void {
  frameListeners.add(fn);
  return () => frameListeners.delete(fn);
}
