// Small shared pieces: error text, presence dot, badge, dialog, async loader hook.
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { describeError } from '../api/errors';
import type { PresenceStatus } from '../api/types';
import { badgeCount, initials } from '../lib/format';
import { presence } from '../state/store';
import { useDialogFocus } from './dialog';

export function ErrorText({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

export function PresenceDot({ userId }: { userId: string | null | undefined }) {
  if (!userId) return null;
  const status: PresenceStatus = presence.value[userId] ?? 'offline';
  return <span class={`dot dot-${status}`} title={status} aria-label={status} role="img" />;
}

export function Avatar({ name, userId }: { name: string; userId?: string | null }) {
  return (
    <span class="avatar" aria-hidden="true">
      {initials(name)}
      {userId ? <PresenceDot userId={userId} /> : null}
    </span>
  );
}

export function Badge({ count, mention }: { count: number; mention?: boolean }) {
  if (count <= 0) return null;
  return (
    <span class={mention ? 'badge badge-mention' : 'badge'} aria-label={mention ? `${count} mentions` : `${count} unread`}>
      {mention ? '@' : ''}
      {badgeCount(count)}
    </span>
  );
}

export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useDialogFocus(ref, onClose);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} tabIndex={-1} ref={ref}>
        <header class="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="close icon" onClick={onClose} aria-label="Close">
            ✕
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

/** Load something when deps change; `reload` runs it again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void; set: (v: T) => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    fn().then(
      (v) => {
        if (!alive) return;
        setData(v);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (!alive) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1), set: setData };
}

/** Run an action with busy/error state for a form or button. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<unknown>) => Promise<boolean>; setError: (e: unknown) => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
