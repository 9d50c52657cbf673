// Web Push: registers the service worker (public/sw.js) and this browser's push subscription with
// the server, so that mentions, DMs and assignments reach the person when no Flowly tab is open.
// Needs notification permission (asked from a click) and a secure origin (https, or localhost).

import { request } from '../api/client';

interface PushKey {
  public_key: string;
  enabled: boolean;
}

/** Whether this browser can receive pushes from this page at all. */
export function pushSupported(): boolean {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && window.isSecureContext;
}

/** base64url → bytes, for `applicationServerKey`. */
export function base64UrlBytes(value: string): Uint8Array<ArrayBuffer> {
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(value.length / 4) * 4, '='));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Subscribes this browser (or renews its subscription) and tells the server. False when it cannot. */
export async function enablePush(): Promise<boolean> {
  if (!pushSupported()) return false;
  const key = await request<PushKey>('GET', 'push/key');
  if (!key.enabled) return false;
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlBytes(key.public_key) }));
  await request<void>('POST', 'push/subscriptions', subscription.toJSON());
  return true;
}

/** Stops pushes to this browser (at logout): the server forgets it, and so does the push service. */
export async function disablePush(): Promise<void> {
  if (!pushSupported()) return;
  const registration = await navigator.serviceWorker.getRegistration('/');
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return;
  await request<void>('DELETE', 'push/subscriptions', { endpoint: subscription.endpoint }).catch(() => undefined);
  await subscription.unsubscribe();
}
