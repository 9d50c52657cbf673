// Logging in and out, and restoring the session after a reload.
import { getCsrfToken, readCookie, setCsrfToken, setSessionEndedHandler } from '../api/client';
import { api } from '../api/endpoints';
import { ApiError } from '../api/errors';
import type { SessionResponse } from '../api/types';
import { startNotifications, stopNotifications } from '../notify';
import { onStreamSessionEnded, refreshRooms, startStream, stopStream } from './live';
import { booting, clearAll, me } from './store';
import { navigate } from './router';
import { sendPendingDeletes } from './undo';

const CSRF_KEY = 'flowly.csrf';

function rememberCsrf(token: string | null): void {
  setCsrfToken(token);
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    /* storage disabled */
  }
}

export async function startSession(res: SessionResponse): Promise<void> {
  rememberCsrf(res.csrf_token);
  // Rooms first: the shell shows once they are known (no flash of the newcomer's welcome).
  await refreshRooms();
  me.value = res.user;
  startStream();
  startNotifications();
}

/** On page load: the cookie session, if there is one. */
export async function restoreSession(): Promise<void> {
  setSessionEndedHandler(() => void forgetSession());
  onStreamSessionEnded(() => forgetSession());
  let stored: string | null = null;
  try {
    stored = sessionStorage.getItem(CSRF_KEY);
  } catch {
    /* storage disabled */
  }
  const cookie = readCookie('flowly_csrf');
  setCsrfToken(cookie ?? stored);
  // No CSRF cookie means no session cookie either (same lifetime): skip the request that would 401.
  if (!cookie && !stored) {
    booting.value = false;
    return;
  }
  try {
    me.value = await api.me();
    await refreshRooms();
    startStream();
    startNotifications();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) console.warn('session check failed', e);
    me.value = null;
  } finally {
    booting.value = false;
  }
}

/** The session is gone (401, 4401 or logout): back to the login screen. */
export function forgetSession(): void {
  stopStream();
  clearAll();
  rememberCsrf(null);
  navigate('/login');
}

export async function logout(everywhere = false): Promise<void> {
  await stopNotifications();
  try {
    await sendPendingDeletes(); // a delete still in its undo window was meant to happen
    if (getCsrfToken()) await (everywhere ? api.logoutAll() : api.logout());
  } catch {
    /* the session may already be gone */
  }
  forgetSession();
}
