// The room list with badges, navigation and connection status.
import { useState } from 'preact/hooks';
import type { Room } from '../api/types';
import { groupRooms, roomLabel } from '../chat/rooms';
import { href, route } from '../state/router';
import { conn, me, rooms } from '../state/store';
import { reconnectNow } from '../state/live';
import { Badge, PresenceDot } from './common';
import { NewRoomDialog } from './NewRoom';
import { SwitcherButton } from './QuickSwitcher';
import { MutedMark, NotifyBell } from '../notify/NotifyControls';

function RoomLink({ room, active }: { room: Room; active: boolean }) {
  const unread = room.unread_count > 0;
  return (
    <li>
      <a
        href={href(`/r/${room.id}`)}
        class={`room-link${active ? ' active' : ''}${unread ? ' unread' : ''}`}
        aria-current={active ? 'page' : undefined}
      >
        {room.kind === 'dm' ? <PresenceDot userId={room.dm_user_id} /> : <span class="hash" aria-hidden="true">{room.kind === 'self' ? '★' : '#'}</span>}
        <span class="room-name">{roomLabel(room)}</span>
        <MutedMark room={room} />
        <Badge count={room.unread_mentions} mention />
        {room.unread_mentions === 0 && <Badge count={room.unread_count} />}
      </a>
    </li>
  );
}

function ConnStatus() {
  const c = conn.value;
  if (c.state === 'live') return <span class="conn conn-live" title="Connected">● Live</span>;
  if (c.state === 'waiting')
    return (
      <button class="conn conn-down linkish" onClick={reconnectNow} title={c.reason}>
        ● Offline, retrying{c.retryInMs ? ` in ${Math.ceil(c.retryInMs / 1000)}s` : ''} (retry now)
      </button>
    );
  if (c.state === 'ended') return <span class="conn conn-down" title={c.reason}>● Disconnected</span>;
  return <span class="conn conn-wait">● Connecting…</span>;
}

export function Sidebar() {
  const [creating, setCreating] = useState(false);
  const { groups, dms } = groupRooms(rooms.value);
  const [section, id] = route.value.path;
  const current = section === 'r' ? id : null;
  const user = me.value!;
  const nav = (to: string, label: string, key: string) => (
    <li>
      <a href={href(to)} class={`nav-link${section === key ? ' active' : ''}`} aria-current={section === key ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
  return (
    <nav class="sidebar" aria-label="Rooms and navigation">
      <header class="side-head">
        <a class="brand" href={href('/')}>Flowly</a>
        <ConnStatus />
      </header>
      <SwitcherButton />
      <ul class="nav-list">
        {nav('/my-tasks', 'My tasks', 'my-tasks')}
        {nav('/search', 'Search', 'search')}
        {nav('/assistant', 'Assistant', 'assistant')}
        {nav('/friends', 'Friends', 'friends')}
        {nav('/profile', 'Profile', 'profile')}
        {user.is_admin && nav('/admin', 'Admin', 'admin')}
      </ul>
      <div class="side-section">
        <h2>Rooms</h2>
        <button class="icon small" onClick={() => setCreating(true)} aria-label="New room" title="New room">+</button>
      </div>
      <ul class="room-list">
        {groups.map((r) => <RoomLink key={r.id} room={r} active={r.id === current} />)}
        {groups.length === 0 && <li class="muted pad">No rooms yet.</li>}
      </ul>
      <div class="side-section">
        <h2>Direct messages</h2>
      </div>
      <ul class="room-list">
        {dms.map((r) => <RoomLink key={r.id} room={r} active={r.id === current} />)}
        {dms.length === 0 && (
          <li class="muted pad">
            <a href={href('/friends')}>Add friends</a> to message them.
          </li>
        )}
      </ul>
      <footer class="side-foot">
        <NotifyBell />
        <a href={href('/profile')} class="me-link">
          <span class={`dot dot-${conn.value.state === "live" ? "online" : "offline"}`} aria-hidden="true" /> {user.display_name} <span class="muted">@{user.username}</span>
        </a>
      </footer>
      {creating && <NewRoomDialog onClose={() => setCreating(false)} />}
    </nav>
  );
}
