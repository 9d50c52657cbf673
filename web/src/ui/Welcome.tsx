// What a brand-new user sees first: no rooms and no friends yet, so say what to do, in order.
import { useState } from 'preact/hooks';
import { rooms } from '../state/store';
import { NewRoomDialog } from './NewRoom';

/** Whether the user has no room with anyone else yet (only their personal notes, if that). */
export function isNewcomer(): boolean {
  return !rooms.value.some((r) => r.kind === 'group' || r.kind === 'dm');
}

export function GettingStarted() {
  const [creating, setCreating] = useState(false);
  return (
    <section class="card getting-started" aria-labelledby="getting-started-title">
      <h2 id="getting-started-title">Get your team in here</h2>
      <p class="muted">You are not in any room with anyone yet. Three steps to a working team:</p>
      <ol>
        <li>
          <button type="button" class="linkish" onClick={() => setCreating(true)}>Create a room</button> for your team or
          project.
        </li>
        <li>
          Open the room's <strong>members</strong> panel and <strong>create an invite link</strong>; send it to your
          teammates. They can sign up straight into the room.
        </li>
        <li>
          Write the first message. Drop files or paste screenshots into it, and turn any message into a task.
        </li>
      </ol>
      <p class="muted">Got an invite link from someone else? Just open it; it brings you into their room.</p>
      {creating && <NewRoomDialog onClose={() => setCreating(false)} />}
    </section>
  );
}
