// Desktop notifications (the Notification API) from the live stream, while a Flowly tab is open.
// Permission is asked only from a click (NotifyControl); without it nothing is shown. When no tab is
// open, the server's Web Push and the service worker (public/sw.js) take over.

import { signal } from '@preact/signals';
import type { Frame } from '../api/types';
import { refreshRooms } from '../state/live';
import { conn, me, onFrames, rooms } from '../state/store';
import { navigate, route } from '../state/router';
import { noticeFor } from './rules';

export type Permission = 'default' | 'granted' | 'denied' | 'unsupported';

function currentPermission(): Permission {
  return typeof Notification === 'undefined' ? 'unsupported' : (Notification.permission as Permission);
}

/** The browser's notification permission, as the UI shows it. */
export const permission = signal<Permission>(currentPermission());

/** Asks for permission (must run inside a click handler); returns the answer. */
export async function askPermission(): Promise<Permission> {
  if (typeof Notification === 'undefined') return 'unsupported';
  permission.value = (await Notification.requestPermission()) as Permission;
  return permission.value;
}

let stop: (() => void) | null = null;

/** Starts turning live events into notifications; returns a function that stops it. */
export function startDesktopNotifications(): () => void {
  stop?.();
  const unsubscribe = onFrames((frame) => {
    const user = me.value;
    // Events replayed after a reconnect are old news; only live ones notify.
    if (!user || conn.value.state !== 'live' || currentPermission() !== 'granted') return;
    // A room new to this page (the first message of a DM) is known once the room list is.
    if (frame.room && !rooms.value.some((r) => r.id === frame.room)) {
      void refreshRooms().then(() => notify(frame));
      return;
    }
    notify(frame);
  });
  stop = () => {
    unsubscribe();
    stop = null;
  };
  return stop;
}

function notify(frame: Frame): void {
  const user = me.value;
  if (!user) return;
  const [section, id] = route.value.path;
  const notice = noticeFor(frame, {
    me: user,
    rooms: rooms.value,
    openRoom: section === 'r' ? id : null,
    hidden: document.visibilityState === 'hidden',
  });
  if (!notice) return;
  const n = new Notification(notice.title, { body: notice.body, tag: notice.tag, data: { path: notice.path } });
  n.onclick = () => {
    window.focus();
    navigate(notice.path);
    n.close();
  };
}
