// Ctrl/Cmd+K: a fuzzy search over rooms, direct messages, people (friends) and open tasks; arrows
// move, Enter opens. Friends and tasks load when the switcher opens.
import { signal } from '@preact/signals';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { describeError } from '../api/errors';
import type { Task, User } from '../api/types';
import { roomLabel } from '../chat/rooms';
import { fuzzyFilter } from '../lib/fuzzy';
import { navigate } from '../state/router';
import { rooms, toast } from '../state/store';
import { useDialogFocus } from './dialog';

interface Item {
  key: string;
  kind: 'Room' | 'Direct message' | 'Person' | 'Task';
  label: string;
  detail?: string;
  open: () => void | Promise<void>;
}

async function openDm(user: User): Promise<void> {
  const room = await api.openDm(user.id);
  if (!rooms.value.some((r) => r.id === room.id)) rooms.value = [room, ...rooms.value];
  navigate(`/r/${room.id}`);
}

function items(friends: User[], tasks: Task[]): Item[] {
  const list: Item[] = rooms.value.map((r) => ({
    key: `r:${r.id}`,
    kind: r.kind === 'dm' ? 'Direct message' : 'Room',
    label: roomLabel(r),
    detail: r.kind === 'dm' && r.dm_username ? `@${r.dm_username}` : r.topic || undefined,
    open: () => navigate(`/r/${r.id}`),
  }));
  const withDm = new Set(rooms.value.map((r) => r.dm_user_id).filter(Boolean));
  for (const f of friends) {
    if (withDm.has(f.id)) continue;
    list.push({ key: `u:${f.id}`, kind: 'Person', label: f.display_name, detail: `@${f.username}`, open: () => openDm(f) });
  }
  const roomName = new Map(rooms.value.map((r) => [r.id, roomLabel(r)]));
  for (const t of tasks) {
    list.push({ key: `t:${t.id}`, kind: 'Task', label: t.title, detail: roomName.get(t.room_id ?? ''), open: () => navigate(`/t/${t.id}`) });
  }
  return list;
}

function Switcher({ onClose }: { onClose: () => void }) {
  const [query, setQuery] = useState('');
  const [sel, setSel] = useState(0);
  const [friends, setFriends] = useState<User[]>([]);
  const [tasks, setTasks] = useState<Task[]>([]);
  const ref = useRef<HTMLDivElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  useDialogFocus(ref, onClose);
  useEffect(() => {
    api.friends().then(setFriends, () => undefined);
    api.tasks({ status: 'todo,doing,blocked', limit: 100 }).then(setTasks, () => undefined);
  }, []);
  // Matched against the name and the detail (so "@bob" finds Bob's DM).
  const hits = fuzzyFilter(items(friends, tasks), query, (i) => `${i.label} ${i.detail ?? ''}`, 30);
  const current = Math.min(sel, hits.length - 1);
  useEffect(() => {
    listRef.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [current]);

  const choose = async (item: Item | undefined) => {
    if (!item) return;
    onClose();
    try {
      await item.open();
    } catch (e) {
      toast(describeError(e), 'error');
    }
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = hits.length;
      if (n) setSel((current + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      void choose(hits[current]);
    }
  };

  return (
    <div class="backdrop switcher-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog switcher" role="dialog" aria-modal="true" aria-label="Quick switcher" tabIndex={-1} ref={ref}>
        <input
          type="text"
          role="combobox"
          aria-label="Go to a room, person or task"
          aria-expanded={hits.length > 0}
          aria-controls="switcher-list"
          aria-autocomplete="list"
          aria-activedescendant={hits.length ? `switcher-${current}` : undefined}
          placeholder="Go to a room, person or task…"
          value={query}
          onInput={(e) => {
            setQuery((e.target as HTMLInputElement).value);
            setSel(0);
          }}
          onKeyDown={onKey}
        />
        <ul id="switcher-list" class="switcher-list" role="listbox" aria-label="Matches" ref={listRef}>
          {hits.map((item, i) => (
            <li
              key={item.key}
              id={`switcher-${i}`}
              role="option"
              aria-selected={i === current}
              class={i === current ? 'selected' : ''}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => void choose(item)}
              onMouseMove={() => i !== current && setSel(i)}
            >
              <span class="switcher-label">{item.label}</span>
              {item.detail && <span class="muted small switcher-detail">{item.detail}</span>}
              <span class="tag">{item.kind}</span>
            </li>
          ))}
          {hits.length === 0 && <li class="muted pad" role="presentation">Nothing matches “{query}”.</li>}
        </ul>
        <p class="muted small switcher-help">↑ ↓ to move · Enter to open · Esc to close</p>
      </div>
    </div>
  );
}

/** Whether the switcher is open; the sidebar's button opens it too (no Ctrl+K on a phone). */
export const switcherOpen = signal(false);

/** Mounted once in the shell: listens for Ctrl/Cmd+K anywhere in the app. */
export function QuickSwitcher() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        switcherOpen.value = !switcherOpen.value;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return switcherOpen.value ? <Switcher onClose={() => (switcherOpen.value = false)} /> : null;
}

/** The sidebar's way in to the switcher. */
export function SwitcherButton() {
  return (
    <button type="button" class="switcher-button" onClick={() => (switcherOpen.value = true)} aria-keyshortcuts="Control+K Meta+K">
      <span>Jump to…</span> <kbd>Ctrl K</kbd>
    </button>
  );
}
