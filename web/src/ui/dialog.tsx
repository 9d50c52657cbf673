// The app's own dialogs' keyboard behaviour (focus in, Tab trapped, Escape closes, focus back to
// the opener) and its confirm dialog, which replaces window.confirm().
import { signal } from '@preact/signals';
import type { ComponentChildren, RefObject } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { trapTab } from '../lib/focus';

/** The open dialogs, innermost last: only the innermost one answers the keyboard. */
const openDialogs: HTMLElement[] = [];

/**
 * While mounted: focuses the first field (or `initial`) inside `ref`, keeps Tab inside it, closes
 * on Escape, and gives focus back to whatever had it before when it goes. The keys are read on the
 * document, not the dialog: focus can fall out to the page (a control inside is disabled while its
 * request runs), and the dialog must still close on Escape and take Tab back. A layout effect, so
 * the listener is there in the same commit that shows the dialog: an Escape pressed the moment
 * it appears is not lost.
 */
export function useDialogFocus(ref: RefObject<HTMLElement>, onClose: () => void, initial?: string): void {
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const root = ref.current;
    if (!root) return;
    const first =
      (initial ? root.querySelector<HTMLElement>(initial) : null) ??
      root.querySelector<HTMLElement>('input, textarea, select, button:not(.close)') ??
      root;
    first.focus();
    openDialogs.push(root);
    const onKey = (e: KeyboardEvent) => {
      if (openDialogs[openDialogs.length - 1] !== root) return;
      const inside = root.contains(e.target as Node);
      if (!inside && e.target !== document.body) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close.current();
      } else if (inside) trapTab(root, e);
      else if (e.key === 'Tab') {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      openDialogs.splice(openDialogs.indexOf(root), 1);
      if (opener?.isConnected) opener.focus();
    };
  }, []);
}

export interface ConfirmOptions {
  title: string;
  body?: ComponentChildren;
  /** The confirming button's label, a verb ("Delete", "Leave"). */
  confirmLabel: string;
  danger?: boolean;
}

interface Asked extends ConfirmOptions {
  id: number;
  answer: (yes: boolean) => void;
}

const asked = signal<Asked | null>(null);
let askedId = 0;

/** Asks in the app's own dialog; resolves true when the user confirms, false on cancel or Escape. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  asked.value?.answer(false);
  return new Promise((resolve) => {
    asked.value = {
      ...options,
      id: ++askedId,
      answer: (yes) => {
        asked.value = null;
        resolve(yes);
      },
    };
  });
}

function ConfirmBox({ q }: { q: Asked }) {
  const ref = useRef<HTMLDivElement>(null);
  // A destructive choice is not the default: Enter right away cancels it.
  useDialogFocus(ref, () => q.answer(false), q.danger ? 'button.confirm-no' : 'button.confirm-yes');
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && q.answer(false)}>
      <div
        class="dialog confirm"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="confirm-title"
        aria-describedby={q.body ? 'confirm-body' : undefined}
        tabIndex={-1}
        ref={ref}
      >
        <h2 id="confirm-title">{q.title}</h2>
        {q.body && <div id="confirm-body" class="muted">{q.body}</div>}
        <div class="row end">
          <button type="button" class="confirm-no" onClick={() => q.answer(false)}>Cancel</button>
          <button type="button" class={`confirm-yes ${q.danger ? 'danger' : 'primary'}`} onClick={() => q.answer(true)}>
            {q.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Where confirm dialogs appear; mounted once by the app shell. */
export function ConfirmHost() {
  const q = asked.value;
  return q ? <ConfirmBox key={q.id} q={q} /> : null;
}
