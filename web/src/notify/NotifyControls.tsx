// The notification controls: the bell that turns desktop notifications (and Web Push) on from a
// click, the per-room mute switch, and the muted mark in the room list.
import { useState } from 'preact/hooks';
import { request } from '../api/client';
import { describeError } from '../api/errors';
import type { Room } from '../api/types';
import { toast, updateRoom } from '../state/store';
import { askPermission, permission } from './desktop';
import { enablePush } from './push';

/** Registers for pushes; a browser without a push service (or an http origin) keeps desktop ones. */
export async function renewPush(): Promise<void> {
  try {
    await enablePush();
  } catch (e) {
    console.warn('web push unavailable', e);
  }
}

export function NotifyBell() {
  const state = permission.value;
  if (state === 'unsupported') return null;
  if (state === 'granted') {
    return <span class="notify-bell on" title="Desktop notifications are on" aria-label="Desktop notifications are on">🔔</span>;
  }
  if (state === 'denied') {
    return <span class="notify-bell off" title="Notifications are blocked in this browser's site settings" aria-label="Notifications blocked">🔕</span>;
  }
  return (
    <button
      type="button"
      class="notify-bell linkish small"
      title="Get a notification for mentions, direct messages and tasks assigned to you"
      onClick={async () => {
        if ((await askPermission()) === 'granted') await renewPush();
      }}
    >
      🔔 Enable notifications
    </button>
  );
}

export function MuteToggle({ room }: { room: Room }) {
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    try {
      const next = await request<Room>(room.muted ? 'DELETE' : 'PUT', `rooms/${room.id}/mute`);
      updateRoom(room.id, (r) => ({ ...r, muted: next.muted }));
    } catch (e) {
      toast(describeError(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <label class="row mute-toggle">
      <input type="checkbox" checked={room.muted} disabled={busy} onChange={() => void toggle()} />
      <span>
        Mute this room <span class="muted small">(no notifications for its messages or mentions; tasks assigned to you still notify)</span>
      </span>
    </label>
  );
}

export function MutedMark({ room }: { room: Room }) {
  return room.muted ? <span class="muted-mark" title="Muted" aria-label="muted">🔕</span> : null;
}
