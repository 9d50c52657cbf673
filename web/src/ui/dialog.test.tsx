// @vitest-environment happy-dom
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { useRef } from 'preact/hooks';
import { confirmDialog, ConfirmHost, useDialogFocus } from './dialog';

const key = (el: Element, k: string, shiftKey = false) =>
  act(() => void el.dispatchEvent(new KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true, cancelable: true })));

function setup() {
  document.body.innerHTML = '<button id="opener">Delete</button><div id="root"></div>';
  render(<ConfirmHost />, document.getElementById('root')!);
  const opener = document.getElementById('opener')!;
  opener.focus();
  return opener;
}

afterEach(() => render(null, document.getElementById('root')!));

describe('confirm dialog', () => {
  it('is an alertdialog named by its title, starting on Cancel when destructive', async () => {
    setup();
    let answer: Promise<boolean> = Promise.resolve(false);
    await act(() => void (answer = confirmDialog({ title: 'Leave Ops?', body: 'You can be added again.', confirmLabel: 'Leave', danger: true })));
    const dialog = document.querySelector('[role=alertdialog]')!;
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(document.getElementById(dialog.getAttribute('aria-labelledby')!)?.textContent).toBe('Leave Ops?');
    expect(document.getElementById(dialog.getAttribute('aria-describedby')!)?.textContent).toBe('You can be added again.');
    expect(document.activeElement?.textContent).toBe('Cancel');
    await act(() => (document.querySelector('.confirm-yes') as HTMLButtonElement).click());
    expect(await answer).toBe(true);
    expect(document.querySelector('[role=alertdialog]')).toBeNull();
  });

  it('keeps Tab inside, closes on Escape with false, and gives focus back to the opener', async () => {
    const opener = setup();
    let answer: Promise<boolean> = Promise.resolve(true);
    await act(() => void (answer = confirmDialog({ title: 'Rename?', confirmLabel: 'Rename' })));
    const dialog = document.querySelector('[role=alertdialog]')!;
    expect(document.activeElement?.textContent).toBe('Rename');
    await key(dialog, 'Tab');
    expect(document.activeElement?.textContent).toBe('Cancel');
    await key(dialog, 'Tab', true);
    expect(document.activeElement?.textContent).toBe('Rename');
    await key(dialog, 'Tab');
    await key(dialog, 'Tab');
    expect(document.activeElement?.textContent).toBe('Rename');
    await key(document.activeElement!, 'Escape');
    expect(await answer).toBe(false);
    expect(document.querySelector('[role=alertdialog]')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('still closes on Escape, and takes Tab back, when focus has fallen out to the page', async () => {
    const opener = setup();
    let answer: Promise<boolean> = Promise.resolve(true);
    await act(() => void (answer = confirmDialog({ title: 'Mute?', confirmLabel: 'Mute' })));
    (document.activeElement as HTMLElement).blur(); // as when the focused control is disabled
    expect(document.activeElement).toBe(document.body);
    await key(document.body, 'Tab');
    expect(document.activeElement?.textContent).toBe('Mute');
    (document.activeElement as HTMLElement).blur();
    await key(document.body, 'Escape');
    expect(await answer).toBe(false);
    expect(document.querySelector('[role=alertdialog]')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('answers Escape pressed in the same task that shows the dialog', () => {
    document.body.innerHTML = '<div id="root"></div>';
    let closed = 0;
    function Dialog() {
      const ref = useRef<HTMLDivElement>(null);
      useDialogFocus(ref, () => closed++);
      return (
        <div role="dialog" ref={ref}>
          <input aria-label="Find" />
        </div>
      );
    }
    // No act(): nothing deferred to after the paint has run yet, as when a user (or a test
    // driver) presses the key the moment the dialog appears.
    render(<Dialog />, document.getElementById('root')!);
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Find');
    document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
    expect(closed).toBe(1);
  });

  it('answers an earlier question with false when a new one is asked', async () => {
    setup();
    let first: Promise<boolean> = Promise.resolve(true);
    await act(() => void (first = confirmDialog({ title: 'One?', confirmLabel: 'Yes' })));
    await act(() => void confirmDialog({ title: 'Two?', confirmLabel: 'Yes' }));
    expect(await first).toBe(false);
    expect(document.getElementById('confirm-title')?.textContent).toBe('Two?');
  });
});
