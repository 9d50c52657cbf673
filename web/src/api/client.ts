// Minimal fetch wrapper: JSON in and out, cookie session, X-CSRF-Token on every write.
import { ApiError, errorFromResponse } from './errors';

const BASE = '/api/v1';
let csrfToken: string | null = null;
let onSessionEnded: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The CSRF token: the one from login/register, or the readable `flowly_csrf` cookie after a reload. */
export function getCsrfToken(): string | null {
  return csrfToken ?? readCookie('flowly_csrf');
}

export function readCookie(name: string, cookie: string = typeof document === 'undefined' ? '' : document.cookie): string | null {
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

export function setSessionEndedHandler(fn: (() => void) | null): void {
  onSessionEnded = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function buildUrl(path: string, query?: Query): string {
  let url = BASE + (path.startsWith('/') ? path : '/' + path);
  if (query) {
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    if (qs) url += '?' + qs;
  }
  return url;
}

export async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = getCsrfToken();
    if (token) headers['x-csrf-token'] = token;
  }
  const res = await fetch(buildUrl(path, query), {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = errorFromResponse(res.status, data, res.headers);
    if (err.status === 401 && err.code === 'unauthenticated' && onSessionEnded) onSessionEnded();
    throw err;
  }
  return data as T;
}

export const get = <T>(path: string, query?: Query) => request<T>('GET', path, undefined, query);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const put = <T>(path: string) => request<T>('PUT', path);
export const del = <T>(path: string) => request<T>('DELETE', path);

export { ApiError };
