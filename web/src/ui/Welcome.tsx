// What a new user sees before they have a room with anyone: the first steps, in order.
import { useState } from 'preact/hooks';
import { href } from '../state/router';
import { me, rooms } from '../state/store';
import { NewRoomDialog } from './NewRoom';

/** Whether the user has no group room and no direct message yet (the personal room does not count). */
export function isNewcomer(): boolean {
  return !rooms.value.some((r) => r.kind !== 'self');
}

export function Welcome() {
  const [creating, setCreating] = useState(false);
  const personal = rooms.value.find((r) => r.kind === 'self');
  return (
    <section class="screen home welcome" aria-labelledby="welcome-title">
      <h1 id="welcome-title">Welcome to Flowly, {me.value?.display_name}</h1>
      <p>Flowly keeps your team's chat and tasks in one stream. You are not in any room yet; start here:</p>
      <section aria-labelledby="getting-started-title">
        <h2 id="getting-started-title" class="sr-only">Get your team in here</h2>
        <ol class="steps">
          <li>
            <h2>Create a room</h2>
            <p class="muted">
              A room is where a team talks and keeps its task board. Then open its <strong>members</strong> panel and
              create an <strong>invite link</strong>: teammates sign up straight into the room.
            </p>
            <button type="button" class="primary" onClick={() => setCreating(true)}>Create a room</button>
          </li>
          <li>
            <h2>Add a friend</h2>
            <p class="muted">Find teammates who already use Flowly by username and send them a request. Once they accept, you can message them directly.</p>
            <a class="button primary" href={href('/friends')}>Find friends</a>
          </li>
          <li>
            <h2>Or wait to be added</h2>
            <p class="muted">
              Got an invite link from someone? Just open it; it brings you into their room. When a friend adds you to a
              room or messages you, it appears in the room list at once.
              {personal && <> Meanwhile <a href={href(`/r/${personal.id}`)}>your personal room</a> keeps your own tasks.</>}
            </p>
          </li>
        </ol>
      </section>
      <p class="muted small">Tip: press <kbd>Ctrl</kbd>+<kbd>K</kbd> (<kbd>⌘</kbd>+<kbd>K</kbd> on a Mac) to jump to any room, person or task.</p>
      {creating && <NewRoomDialog onClose={() => setCreating(false)} />}
    </section>
  );
}
