// Friends: search people, requests in and out, friends (message, remove, block), blocked people.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { confirmDialog } from './dialog';
import type { User } from '../api/types';
import { refreshRooms } from '../state/live';
import { navigate } from '../state/router';
import { friendsVersion, me, toast } from '../state/store';
import { ErrorText, PresenceDot, useAction, useLoad } from './common';

export function Friends() {
  const v = friendsVersion.value;
  const friends = useLoad(() => api.friends(), [v]);
  const requests = useLoad(() => api.friendRequests(), [v]);
  const blocks = useLoad(() => api.blocks(), [v]);
  const [q, setQ] = useState('');
  const [results, setResults] = useState<User[] | null>(null);
  const { busy, error, run } = useAction();
  const user = me.value!;
  const reload = () => (friendsVersion.value += 1);

  const act = (fn: () => Promise<unknown>, done?: string) =>
    void run(async () => {
      await fn();
      if (done) toast(done);
      reload();
    });

  const search = (e: Event) => {
    e.preventDefault();
    if (q.trim()) void run(async () => setResults(await api.searchUsers(q.trim())));
  };

  const message = (u: User) =>
    void run(async () => {
      const room = await api.openDm(u.id);
      await refreshRooms();
      navigate(`/r/${room.id}`);
    });

  const incoming = requests.data?.filter((r) => r.direction === 'incoming') ?? [];
  const outgoing = requests.data?.filter((r) => r.direction === 'outgoing') ?? [];
  const isFriend = (id: string) => friends.data?.some((f) => f.id === id);
  const isBlocked = (id: string) => blocks.data?.some((b) => b.id === id);
  const isPending = (id: string) => requests.data?.some((r) => r.user.id === id);

  return (
    <section class="screen">
      <h1>Friends</h1>
      <ErrorText error={error || friends.error || requests.error || blocks.error} />
      <form class="row" role="search" onSubmit={search}>
        <input class="grow" type="search" aria-label="Find people" placeholder="Find people by name or username" value={q} maxLength={64}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>Search</button>
      </form>
      {results && (
        <ul class="plain rows">
          {results.length === 0 && <li class="muted">Nobody found.</li>}
          {results.filter((u) => u.id !== user.id).map((u) => (
            <li key={u.id} class="row">
              <span class="grow">{u.display_name} <span class="muted">@{u.username}</span></span>
              {isFriend(u.id) ? <span class="tag">friend</span> : isPending(u.id) ? <span class="tag">pending</span> : (
                <button class="small" disabled={busy} onClick={() => act(() => api.sendFriendRequest({ user_id: u.id }), 'Friend request sent.')}>Add friend</button>
              )}
              {!isBlocked(u.id) && <button class="small danger" disabled={busy} onClick={() => act(() => api.block(u.id), 'Blocked.')}>Block</button>}
            </li>
          ))}
        </ul>
      )}

      <h2>Requests for you</h2>
      {incoming.length === 0 && <p class="muted">None.</p>}
      <ul class="plain rows">
        {incoming.map((r) => (
          <li key={r.id} class="row">
            <span class="grow">{r.user.display_name} <span class="muted">@{r.user.username}</span></span>
            <button class="small primary" disabled={busy} onClick={() => act(() => api.acceptRequest(r.id), 'You are now friends.')}>Accept</button>
            <button class="small" disabled={busy} onClick={() => act(() => api.declineRequest(r.id))}>Decline</button>
          </li>
        ))}
      </ul>

      <h2>Requests you sent</h2>
      {outgoing.length === 0 && <p class="muted">None.</p>}
      <ul class="plain rows">
        {outgoing.map((r) => (
          <li key={r.id} class="row">
            <span class="grow">{r.user.display_name} <span class="muted">@{r.user.username}</span></span>
            <button class="small" disabled={busy} onClick={() => act(() => api.cancelRequest(r.id))}>Cancel</button>
          </li>
        ))}
      </ul>

      <h2>Your friends</h2>
      {friends.data?.length === 0 && <p class="muted">No friends yet. Search for people above.</p>}
      <ul class="plain rows">
        {friends.data?.map((f) => (
          <li key={f.id} class="row">
            <PresenceDot userId={f.id} />
            <span class="grow">{f.display_name} <span class="muted">@{f.username}</span></span>
            <button class="small primary" disabled={busy} onClick={() => message(f)}>Message</button>
            <button class="small" disabled={busy} onClick={async () => (await confirmDialog({ title: `Remove ${f.display_name} from your friends?`, confirmLabel: 'Remove', danger: true })) && act(() => api.removeFriend(f.id))}>Remove</button>
            <button class="small danger" disabled={busy} onClick={async () => (await confirmDialog({ title: `Block ${f.display_name}?`, body: 'They can no longer message you or send you requests.', confirmLabel: 'Block', danger: true })) && act(() => api.block(f.id), 'Blocked.')}>Block</button>
          </li>
        ))}
      </ul>

      <h2>Blocked</h2>
      {blocks.data?.length === 0 && <p class="muted">Nobody.</p>}
      <ul class="plain rows">
        {blocks.data?.map((b) => (
          <li key={b.id} class="row">
            <span class="grow">{b.display_name} <span class="muted">@{b.username}</span></span>
            <button class="small" disabled={busy} onClick={() => act(() => api.unblock(b.id))}>Unblock</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
