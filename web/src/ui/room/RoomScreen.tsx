// A room: header (name, topic, presence, tabs) and its chat, board or task list.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/endpoints';
import { roomLabel } from '../../chat/rooms';
import { refreshMembers } from '../../state/live';
import { href } from '../../state/router';
import { describeError } from '../../api/errors';
import { members, roomById, rooms, toast } from '../../state/store';
import { AssistantPanel, panelRoom, startRequest } from '../assistant/AssistantPanel';
import { ErrorText, PresenceDot } from '../common';
import { Board } from '../tasks/Board';
import { TaskList } from '../tasks/TaskList';
import { Chat } from './Chat';
import { RoomSettings } from './RoomSettings';

export function RoomScreen({ roomId, tab }: { roomId: string; tab: string }) {
  const room = roomById(roomId);
  const [error, setError] = useState<unknown>(null);
  const [settings, setSettings] = useState(false);
  const list = members.value[roomId] ?? [];

  useEffect(() => {
    void refreshMembers(roomId);
    if (!roomById(roomId)) {
      api.room(roomId).then(
        (r) => (rooms.value = [r, ...rooms.value.filter((x) => x.id !== r.id)]),
        (e) => setError(e),
      );
    }
  }, [roomId]);

  if (!room) {
    return (
      <section class="screen">
        {error ? <ErrorText error={error} /> : <p class="muted">Loading room…</p>}
      </section>
    );
  }

  const panelOpen = panelRoom.value === roomId;
  const summarise = () =>
    startRequest(roomId, () => api.summarise(roomId)).catch((e) => toast(describeError(e), 'error'));

  const tabLink = (key: string, label: string) => (
    <a
      href={href(`/r/${roomId}${key === 'chat' ? '' : '/' + key}`)}
      class={`tab${tab === key ? ' active' : ''}`}
      aria-current={tab === key ? 'page' : undefined}
    >
      {label}
    </a>
  );

  return (
    <section class="room" aria-label={roomLabel(room)}>
      <header class="room-head">
        <div class="room-title">
          <h1>
            {room.kind === 'dm' && <PresenceDot userId={room.dm_user_id} />} {roomLabel(room)}
          </h1>
          {room.topic && <p class="muted topic">{room.topic}</p>}
        </div>
        <nav class="tabs" aria-label="Room views">
          {tabLink('chat', 'Chat')}
          {tabLink('board', 'Board')}
          {tabLink('tasks', 'Tasks')}
        </nav>
        <button
          class={`small${panelOpen ? ' active' : ''}`}
          aria-pressed={panelOpen}
          onClick={() => (panelRoom.value = panelOpen ? null : roomId)}
        >
          Ask
        </button>
        <button class="small" onClick={summarise} title="Summarise what happened since you last read this room">
          Summarise
        </button>
        <button class="small" onClick={() => setSettings(true)} aria-label={`Members and settings (${room.member_count} members)`}>
          👥 {room.member_count}
        </button>
      </header>
      <div class={`room-body${panelOpen ? ' with-panel' : ''}`}>
        {tab === 'board' ? (
          <Board room={room} members={list} />
        ) : tab === 'tasks' ? (
          <TaskList room={room} members={list} />
        ) : (
          <Chat room={room} members={list} />
        )}
        {panelOpen && <AssistantPanel room={room} members={list} onClose={() => (panelRoom.value = null)} />}
      </div>
      {settings && <RoomSettings room={room} members={list} onClose={() => setSettings(false)} />}
    </section>
  );
}
