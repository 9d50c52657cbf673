// Notifications for a logged-in page: desktop notifications from the live stream, and this
// browser's Web Push subscription (renewed at each start when permission was given before).
import { permission, startDesktopNotifications } from './desktop';
import { renewPush } from './NotifyControls';
import { disablePush } from './push';

let stopDesktop: (() => void) | null = null;

export function startNotifications(): void {
  stopDesktop ??= startDesktopNotifications();
  if (permission.value === 'granted') void renewPush();
}

/** At logout, while the session still works: this browser gets no more pushes for this user. */
export async function stopNotifications(): Promise<void> {
  stopDesktop?.();
  stopDesktop = null;
  try {
    await disablePush();
  } catch (e) {
    console.warn('could not remove the push subscription', e);
  }
}
