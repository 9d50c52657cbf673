// Members (with presence), inviting friends, removing (owner), renaming, topic, leaving.
import { useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { confirmDialog } from '../dialog';
import type { Member, Room } from '../../api/types';
import { refreshMembers, refreshRooms } from '../../state/live';
import { navigate } from '../../state/router';
import { me } from '../../state/store';
import { Dialog, ErrorText, PresenceDot, useAction, useLoad } from '../common';
import { InviteLinks } from '../Invite';
import { MuteToggle } from '../../notify/NotifyControls';

export function RoomSettings({ room, members, onClose }: { room: Room; members: Member[]; onClose: () => void }) {
  const user = me.value!;
  const owner = room.role === 'owner';
  const group = room.kind === 'group';
  const [name, setName] = useState(room.name);
  const [topic, setTopic] = useState(room.topic);
  const [invite, setInvite] = useState('');
  const friends = useLoad(() => (group ? api.friends() : Promise.resolve([])), [room.id]);
  const { busy, error, run } = useAction();
  const candidates = (friends.data ?? []).filter((f) => !members.some((m) => m.user_id === f.id));

  const save = (e: Event) => {
    e.preventDefault();
    const body: { name?: string; topic?: string } = {};
    if (name.trim() !== room.name) body.name = name.trim();
    if (topic.trim() !== room.topic) body.topic = topic.trim();
    if (!body.name && body.topic === undefined) return;
    void run(async () => {
      await api.updateRoom(room.id, body);
      await refreshRooms();
    });
  };

  return (
    <Dialog title={`${room.name} — members`} onClose={onClose}>
      <ul class="plain member-list">
        {members.map((m) => (
          <li key={m.user_id} class="row">
            <PresenceDot userId={m.user_id === user.id ? null : m.user_id} />
            <span class="grow">
              {m.display_name} <span class="muted">@{m.username}</span> {m.role === 'owner' && <span class="tag">owner</span>}
            </span>
            {group && owner && m.user_id !== user.id && (
              <button
                class="small danger"
                disabled={busy}
                onClick={() => void run(async () => (await api.removeMember(room.id, m.user_id), await refreshMembers(room.id)))}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {group && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (invite) void run(async () => (await api.addMember(room.id, invite), setInvite(''), await refreshMembers(room.id)));
          }}
        >
          <label class="grow">
            Add a friend
            <select value={invite} onChange={(e) => setInvite((e.target as HTMLSelectElement).value)}>
              <option value="">Choose…</option>
              {candidates.map((f) => <option key={f.id} value={f.id}>{f.display_name} (@{f.username})</option>)}
            </select>
          </label>
          <button type="submit" disabled={!invite || busy}>Add</button>
        </form>
      )}
      {group && (owner || user.is_admin) && <InviteLinks roomId={room.id} />}
      {group && owner && (
        <form class="stack" onSubmit={save}>
          <label>
            Name
            <input value={name} maxLength={80} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Topic
            <input value={topic} maxLength={500} onInput={(e) => setTopic((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={busy}>Save</button>
        </form>
      )}
      <MuteToggle room={room} />
      <ErrorText error={error || friends.error} />
      {group && (
        <div class="row end">
          <button
            class="danger"
            onClick={async () => {
              if (!(await confirmDialog({ title: `Leave ${room.name}?`, confirmLabel: 'Leave', danger: true }))) return;
              void run(async () => {
                await api.leaveRoom(room.id);
                await refreshRooms();
                onClose();
                navigate('/');
              });
            }}
          >
            Leave room
          </button>
        </div>
      )}
    </Dialog>
  );
}
