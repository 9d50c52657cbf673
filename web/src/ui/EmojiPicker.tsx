// An emoji picker with search, recent emoji first. The emoji set loads when the picker first
// opens (lib/emoji.ts), not with the page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { gridStep } from '../lib/focus';
import { GROUPS, loadEmoji, quickEmoji, recentEmoji, rememberEmoji, searchEmoji, type Emoji } from '../lib/emoji';
import { me } from '../state/store';
import { useDialogFocus } from './dialog';

/** Search hits shown at most (a short query matches hundreds). */
const MAX_HITS = 200;

/** Arrow keys move between the emoji of one grid (Tab goes on to the next group). */
function onGridKey(e: KeyboardEvent) {
  const el = e.target as HTMLElement;
  const grid = el.closest('.emoji-grid');
  if (!grid || !el.matches('button.emoji')) return;
  const cells = Array.from(grid.querySelectorAll<HTMLElement>('button.emoji'));
  const columns = cells.filter((c) => c.offsetTop === cells[0].offsetTop).length;
  const next = gridStep(cells.indexOf(el), cells.length, columns, e.key);
  if (next === null) return;
  e.preventDefault();
  cells[next].focus();
}

function EmojiGrid({ list, onPick, label }: { list: { emoji: string; label: string }[]; onPick: (e: string) => void; label: string }) {
  return (
    <div class="emoji-grid" role="group" aria-label={label}>
      {list.map((e) => (
        <button key={e.emoji} type="button" class="emoji" title={e.label} aria-label={e.label} onClick={() => onPick(e.emoji)}>
          {e.emoji}
        </button>
      ))}
    </div>
  );
}

export function EmojiPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const userId = me.value?.id ?? '';
  const [all, setAll] = useState<Emoji[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [query, setQuery] = useState('');
  const ref = useRef<HTMLDivElement>(null);
  useDialogFocus(ref, onClose);
  useEffect(() => {
    loadEmoji().then(setAll, () => setFailed(true));
  }, []);
  useEffect(() => {
    const away = (e: Event) => {
      // The anchor holds the opening button too, whose own click toggles the picker.
      if (!ref.current?.parentElement?.contains(e.target as Node)) onClose();
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, []);

  const pick = (emoji: string) => {
    rememberEmoji(userId, emoji);
    onPick(emoji);
    onClose();
  };
  const byEmoji = new Map((all ?? []).map((e) => [e.emoji, e]));
  const recent = quickEmoji(recentEmoji(userId), 12).map((e) => byEmoji.get(e) ?? { emoji: e, label: e });
  const hits = all && query.trim() ? searchEmoji(all, query).slice(0, MAX_HITS) : null;

  return (
    <div class="emoji-picker" role="dialog" aria-label="Emoji picker" tabIndex={-1} ref={ref}>
      <input
        type="search"
        placeholder="Search emoji"
        aria-label="Search emoji"
        value={query}
        onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            if (hits?.[0]) pick(hits[0].emoji);
          } else if (e.key === 'ArrowDown') {
            e.preventDefault();
            ref.current?.querySelector<HTMLElement>('button.emoji')?.focus();
          }
        }}
      />
      <div class="emoji-scroll" onKeyDown={onGridKey}>
        {failed && <p class="error" role="alert">The emoji could not be loaded. Close the picker and try again.</p>}
        {!all && !failed && <p class="muted small">Loading emoji…</p>}
        {hits ? (
          hits.length ? <EmojiGrid list={hits} onPick={pick} label="Search results" /> : <p class="muted small">No emoji match “{query}”.</p>
        ) : (
          <>
            <h3>Recent</h3>
            <EmojiGrid list={recent} onPick={pick} label="Recent" />
            {all &&
              GROUPS.map(([g, name]) => (
                <section key={g}>
                  <h3>{name}</h3>
                  <EmojiGrid list={all.filter((e) => e.group === g)} onPick={pick} label={name} />
                </section>
              ))}
          </>
        )}
      </div>
    </div>
  );
}

/** A button that opens the picker beside it. */
export function EmojiButton({ label, onPick }: { label: string; onPick: (emoji: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <span class="emoji-anchor">
      <button type="button" class="icon" aria-label={label} title={label} aria-haspopup="dialog" aria-expanded={open} onClick={() => setOpen(!open)}>
        😊
      </button>
      {open && <EmojiPicker onPick={onPick} onClose={() => setOpen(false)} />}
    </span>
  );
}
