// Keyboard focus inside a dialog: Tab and Shift+Tab cycle through the dialog's own controls and
// never reach the page behind it (WAI-ARIA's modal dialog pattern).

const TABBABLE = [
  'a[href]', 'area[href]', 'button:not([disabled])', 'input:not([disabled]):not([type=hidden])',
  'select:not([disabled])', 'textarea:not([disabled])', 'iframe', '[contenteditable=""]', '[contenteditable="true"]',
  '[tabindex]',
].join(',');

/** The elements Tab visits inside `root`, in document order (tabindex="-1" and hidden ones left out). */
export function tabbables(root: ParentNode): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(TABBABLE)).filter(
    (el) => el.tabIndex >= 0 && !el.hidden && !el.closest('[hidden], [inert]') && el.getAttribute('aria-hidden') !== 'true',
  );
}

/** Where Tab (or Shift+Tab) goes from position `current` among `count` tabbables (-1: none of them). */
export function nextIndex(count: number, current: number, backwards: boolean): number {
  if (count === 0) return -1;
  if (current < 0) return backwards ? count - 1 : 0;
  return (current + (backwards ? count - 1 : 1)) % count;
}

/**
 * Handles a Tab keydown inside `root`: moves focus to the next (or previous) control and wraps at
 * the ends. Returns whether it moved focus (the caller's event then has its default prevented).
 */
export function trapTab(root: HTMLElement, e: KeyboardEvent): boolean {
  if (e.key !== 'Tab') return false;
  const list = tabbables(root);
  const active = root.ownerDocument.activeElement as HTMLElement | null;
  const i = nextIndex(list.length, active ? list.indexOf(active) : -1, e.shiftKey);
  e.preventDefault();
  if (i < 0) root.focus();
  else list[i].focus();
  return true;
}

/**
 * Where an arrow key goes in a grid of `count` cells laid out `columns` wide, from `current`:
 * left/right step through the cells in order, up/down move a row; null when the key is not an
 * arrow or the move would leave the grid.
 */
export function gridStep(current: number, count: number, columns: number, key: string): number | null {
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[key];
  if (step === undefined || columns < 1) return null;
  const next = current + step;
  return next >= 0 && next < count ? next : null;
}
