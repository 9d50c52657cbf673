// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { gridStep, nextIndex, tabbables, trapTab } from './focus';

function dialog(html: string): HTMLElement {
  document.body.innerHTML = `<button id="outside">outside</button><div id="d" tabindex="-1">${html}</div>`;
  return document.getElementById('d')!;
}

const tab = (root: HTMLElement, shiftKey = false) => {
  const e = new KeyboardEvent('keydown', { key: 'Tab', shiftKey, cancelable: true });
  trapTab(root, e);
  return e;
};

describe('focus trap', () => {
  it('wraps around at both ends', () => {
    expect(nextIndex(3, 0, false)).toBe(1);
    expect(nextIndex(3, 2, false)).toBe(0);
    expect(nextIndex(3, 0, true)).toBe(2);
    expect(nextIndex(3, -1, false)).toBe(0);
    expect(nextIndex(3, -1, true)).toBe(2);
    expect(nextIndex(0, -1, false)).toBe(-1);
  });

  it('lists only what Tab reaches', () => {
    const root = dialog(`
      <input id="a"><button id="b" disabled>x</button><a id="c" href="#">c</a><span tabindex="-1">no</span>
      <div hidden><button>hidden</button></div><textarea id="d2"></textarea>`);
    expect(tabbables(root).map((el) => el.id)).toEqual(['a', 'c', 'd2']);
  });

  it('keeps Tab and Shift+Tab inside the dialog', () => {
    const root = dialog('<input id="first"><button id="mid">ok</button><button id="last">cancel</button>');
    const first = document.getElementById('first')!;
    const last = document.getElementById('last')!;
    last.focus();
    const e = tab(root);
    expect(e.defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(first);
    tab(root, true);
    expect(document.activeElement).toBe(last);
    tab(root, true);
    expect(document.activeElement?.id).toBe('mid');
  });

  it('pulls focus back in from outside, and ignores other keys', () => {
    const root = dialog('<button id="only">ok</button>');
    document.getElementById('outside')!.focus();
    tab(root);
    expect(document.activeElement?.id).toBe('only');
    const e = new KeyboardEvent('keydown', { key: 'Enter', cancelable: true });
    expect(trapTab(root, e)).toBe(false);
    expect(e.defaultPrevented).toBe(false);
  });

  it('focuses the dialog itself when it has no controls', () => {
    const root = dialog('<p>Just text</p>');
    tab(root);
    expect(document.activeElement).toBe(root);
  });

  it('moves through a grid with the arrow keys, never out of it', () => {
    // 10 cells, 4 wide: rows 0-3, 4-7, 8-9
    expect(gridStep(5, 10, 4, 'ArrowRight')).toBe(6);
    expect(gridStep(4, 10, 4, 'ArrowLeft')).toBe(3);
    expect(gridStep(1, 10, 4, 'ArrowDown')).toBe(5);
    expect(gridStep(5, 10, 4, 'ArrowUp')).toBe(1);
    expect(gridStep(1, 10, 4, 'ArrowUp')).toBeNull();
    expect(gridStep(7, 10, 4, 'ArrowDown')).toBeNull();
    expect(gridStep(9, 10, 4, 'ArrowRight')).toBeNull();
    expect(gridStep(0, 10, 4, 'Enter')).toBeNull();
  });
});
