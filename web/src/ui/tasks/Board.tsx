// The room's board: columns by status in the server's order; drag (or Alt+arrows, or the move
// buttons) to move; live through task.* frames.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { describeError } from '../../api/errors';
import { STATUSES, type Member, type Room, type Task, type TaskStatus } from '../../api/types';
import { afterFor, columns, moveLocally, neighbourMove, upsert } from '../../tasks/board';
import { onFrames, toast } from '../../state/store';
import { ErrorText, useLoad } from '../common';
import { taskIdOf } from './live';
import { TaskFormDialog } from './TaskForm';
import { TaskLink, TaskMeta } from './TaskCard';

const LABEL: Record<TaskStatus, string> = { todo: 'To do', doing: 'Doing', blocked: 'Blocked', done: 'Done' };

export function Board({ room, members }: { room: Room; members: Member[] }) {
  const tasks = useLoad(() => api.tasks({ room: room.id, limit: 200 }), [room.id]);
  const [creating, setCreating] = useState<TaskStatus | null>(null);
  const [drop, setDrop] = useState<{ status: TaskStatus; index: number } | null>(null);
  const dragged = useRef<string | null>(null);
  const list = tasks.data ?? [];
  const cols = columns(list);

  useEffect(
    () =>
      onFrames((f) => {
        if (f.room !== room.id || !f.type.startsWith('task.')) return;
        const id = taskIdOf(f);
        if (!id) return;
        if (f.type === 'task.deleted') {
          tasks.set(currentRef.current.filter((t) => t.id !== id));
          return;
        }
        api.task(id).then(
          (t) => tasks.set(upsert(currentRef.current, t)),
          () => undefined,
        );
      }),
    [room.id, tasks.data],
  );
  const currentRef = useRef(list);
  currentRef.current = list;

  const move = async (id: string, status: TaskStatus, after: string | null) => {
    const before = currentRef.current;
    tasks.set(moveLocally(before, id, status, after));
    try {
      const t = await api.moveTask(id, status, after);
      tasks.set(upsert(currentRef.current, t));
    } catch (e) {
      tasks.set(before);
      toast(describeError(e), 'error');
    }
  };

  const dropIndex = (e: DragEvent, status: TaskStatus): number => {
    const col = (e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('.card');
    let i = 0;
    for (const el of Array.from(col)) {
      const r = el.getBoundingClientRect();
      if (e.clientY > r.top + r.height / 2) i++;
    }
    return Math.min(i, cols[status].length);
  };

  const onKey = (e: KeyboardEvent, t: Task) => {
    if (!e.altKey) return;
    const dir = { ArrowUp: 'up', ArrowDown: 'down', ArrowLeft: 'left', ArrowRight: 'right' }[e.key] as
      | 'up' | 'down' | 'left' | 'right' | undefined;
    if (!dir) return;
    e.preventDefault();
    const m = neighbourMove(list, t.id, dir);
    if (m) void move(t.id, m.status, m.after).then(() => focusCard(t.id));
  };

  return (
    <div class="board-wrap">
      <ErrorText error={tasks.error} />
      {tasks.loading && !tasks.data && <p class="muted pad">Loading tasks…</p>}
      <p class="muted small pad hint">Drag cards to move them, or focus a card and press Alt + arrow keys.</p>
      <div class="board">
        {STATUSES.map((s) => (
          <section
            key={s}
            class={`column${drop?.status === s ? ' drop-target' : ''}`}
            aria-label={`${LABEL[s]} (${cols[s].length})`}
            onDragOver={(e) => {
              e.preventDefault();
              setDrop({ status: s, index: dropIndex(e, s) });
            }}
            onDragLeave={(e) => {
              if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node)) setDrop(null);
            }}
            onDrop={(e) => {
              e.preventDefault();
              const id = dragged.current ?? e.dataTransfer?.getData('text/plain');
              const index = dropIndex(e, s);
              setDrop(null);
              dragged.current = null;
              if (id) void move(id, s, afterFor(cols[s], id, index));
            }}
          >
            <header class="column-head">
              <h2>{LABEL[s]} <span class="muted">{cols[s].length}</span></h2>
              <button class="icon small" onClick={() => setCreating(s)} aria-label={`New task in ${LABEL[s]}`}>+</button>
            </header>
            <ol class="cards">
              {cols[s].map((t, i) => (
                <li
                  key={t.id}
                  class={`card${drop?.status === s && drop.index === i ? ' drop-before' : ''}`}
                  data-task={t.id}
                  draggable
                  tabIndex={0}
                  aria-label={`${t.title}, ${LABEL[s]}`}
                  onDragStart={(e) => {
                    dragged.current = t.id;
                    e.dataTransfer?.setData('text/plain', t.id);
                  }}
                  onKeyDown={(e) => onKey(e, t)}
                >
                  <TaskLink task={t} />
                  <TaskMeta task={t} />
                  <div class="card-moves">
                    <MoveButtons task={t} list={list} move={move} />
                  </div>
                </li>
              ))}
              {drop?.status === s && drop.index >= cols[s].length && <li class="drop-end" aria-hidden="true" />}
            </ol>
          </section>
        ))}
      </div>
      {creating && (
        <TaskFormDialog
          roomId={room.id}
          members={members}
          status={creating}
          onClose={() => setCreating(null)}
          onCreated={(t) => tasks.set(upsert(currentRef.current, t))}
        />
      )}
    </div>
  );
}

function focusCard(id: string) {
  requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-task="${id}"]`)?.focus());
}

function MoveButtons({ task, list, move }: { task: Task; list: Task[]; move: (id: string, s: TaskStatus, a: string | null) => Promise<void> }) {
  const b = (dir: 'left' | 'up' | 'down' | 'right', label: string, text: string) => {
    const m = neighbourMove(list, task.id, dir);
    return (
      <button type="button" class="icon tiny" disabled={!m} aria-label={label} title={label} onClick={() => m && void move(task.id, m.status, m.after)}>
        {text}
      </button>
    );
  };
  return (
    <>
      {b('left', 'Move to previous column', '◀')}
      {b('up', 'Move up', '▲')}
      {b('down', 'Move down', '▼')}
      {b('right', 'Move to next column', '▶')}
    </>
  );
}
