// Pure: which live events raise a desktop notification, and what it says. The same rules as the
// server's pushes (src/app/push.rs): a message that @mentions me, any message in a DM, a task
// assigned to me; never my own doing; a muted room only for task assignments. And only when I
// would not see it anyway: the tab is hidden, or another room (or no room) is open.

import type { Frame, Message, Room } from '../api/types';
import { bodyParts } from '../lib/format';

export interface Me {
  id: string;
  username: string;
}

export interface Context {
  me: Me;
  rooms: Room[];
  /** The room on screen, if any. */
  openRoom: string | null;
  hidden: boolean;
}

export interface DesktopNotice {
  reason: 'mention' | 'dm' | 'task_assigned';
  title: string;
  body: string;
  /** The route a click opens (`/r/<room>`, `/t/<task>`). */
  path: string;
  /** Notifications with the same tag replace each other. */
  tag: string;
}

const MAX_BODY = 200;

function short(text: string): string {
  return text.length > MAX_BODY ? text.slice(0, MAX_BODY) + '…' : text;
}

/** Whether `body` @mentions `username` (the way the server finds mentions). */
export function mentions(body: string, username: string): boolean {
  const me = '@' + username.toLowerCase();
  return bodyParts(body).some((p) => p.mention && p.text.toLowerCase().replace(/[.-]+$/, '') === me);
}

/** The assignee a task event gave the task, when it is a (re)assignment. */
function assignedTo(msg: Message): string | null {
  const changes = (msg.data?.changes ?? {}) as Record<string, any>;
  if (msg.data?.event === 'task_created') return (changes.assignee_id as string | null) ?? null;
  const change = changes.assignee_id as { to?: string | null } | undefined;
  return change?.to ?? null;
}

/** The desktop notification a frame deserves, or null. */
export function noticeFor(frame: Frame, ctx: Context): DesktopNotice | null {
  const msg = frame.data?.message as Message | undefined;
  if (!frame.room || !msg || msg.author_id === ctx.me.id || msg.deleted_at) return null;
  const room = ctx.rooms.find((r) => r.id === frame.room);
  if (!room) return null;
  if (!ctx.hidden && ctx.openRoom === room.id) return null;
  const author = msg.author_display_name ?? 'Someone';
  if (frame.type.startsWith('task.') && msg.kind === 'system') {
    const task = msg.ref_task_id ?? (msg.data?.task_id as string | undefined);
    if (!task || assignedTo(msg) !== ctx.me.id) return null;
    const title = (msg.data?.title as string | undefined) ?? 'a task';
    return { reason: 'task_assigned', title: `${author} assigned you a task`, body: short(title), path: `/t/${task}`, tag: `task-${task}` };
  }
  if (frame.type !== 'message.created' || msg.kind !== 'user' || room.muted) return null;
  const path = msg.task_id ? `/t/${msg.task_id}` : `/r/${room.id}`;
  if (room.kind === 'dm') return { reason: 'dm', title: author, body: short(msg.body), path, tag: `room-${room.id}` };
  if (mentions(msg.body, ctx.me.username)) {
    return { reason: 'mention', title: `${author} in ${room.name}`, body: short(msg.body), path, tag: `room-${room.id}` };
  }
  return null;
}
