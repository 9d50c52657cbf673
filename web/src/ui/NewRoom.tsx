// Create a group room with some friends.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { refreshRooms } from '../state/live';
import { navigate } from '../state/router';
import { Dialog, ErrorText, useAction, useLoad } from './common';

export function NewRoomDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const friends = useLoad(() => api.friends(), []);
  const { busy, error, run } = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    let id = '';
    const ok = await run(async () => {
      const room = await api.createRoom(name.trim(), topic.trim(), picked);
      id = room.id;
      await refreshRooms();
    });
    if (ok) {
      onClose();
      navigate(`/r/${id}`);
    }
  };

  return (
    <Dialog title="New room" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <label>
          Name
          <input required maxLength={80} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Topic <span class="muted">(optional)</span>
          <input maxLength={500} value={topic} onInput={(e) => setTopic((e.target as HTMLInputElement).value)} />
        </label>
        <fieldset>
          <legend>Members</legend>
          {friends.loading && <p class="muted">Loading friends…</p>}
          <ErrorText error={friends.error} />
          {friends.data?.length === 0 && <p class="muted">Only friends can be added. You can add people later.</p>}
          {friends.data?.map((f) => (
            <label class="check" key={f.id}>
              <input
                type="checkbox"
                checked={picked.includes(f.id)}
                onChange={(e) =>
                  setPicked((e.target as HTMLInputElement).checked ? [...picked, f.id] : picked.filter((x) => x !== f.id))
                }
              />
              {f.display_name} <span class="muted">@{f.username}</span>
            </label>
          ))}
        </fieldset>
        <ErrorText error={error} />
        <div class="row end">
          <button type="button" onClick={onClose}>Cancel</button>
          <button class="primary" type="submit" disabled={busy}>Create</button>
        </div>
      </form>
    </Dialog>
  );
}
