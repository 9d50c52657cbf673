// Hash routes, so `flowly serve` needs no fallback: #/r/<room>, #/r/<room>/board, #/t/<task>, …
import { signal } from '@preact/signals';

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [p, q = ''] = raw.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export const route = signal<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => {
    route.value = parseHash(location.hash);
  });
}

export function navigate(to: string): void {
  const hash = '#' + (to.startsWith('/') ? to : '/' + to);
  if (location.hash === hash) route.value = parseHash(hash);
  else location.hash = hash;
}

export function href(to: string): string {
  return '#' + (to.startsWith('/') ? to : '/' + to);
}
