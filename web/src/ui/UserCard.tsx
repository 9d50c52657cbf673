// Where an @mention leads (#/u/<username>): who that is, and a way to message them.
import { api } from '../api/endpoints';
import { navigate } from '../state/router';
import { me } from '../state/store';
import { Avatar, ErrorText, useAction, useLoad } from './common';

export function UserCard({ username }: { username: string }) {
  const found = useLoad(async () => (await api.searchUsers(username)).find((u) => u.username === username) ?? null, [username]);
  const dm = useAction();
  const user = found.data;
  return (
    <section class="screen">
      {found.loading ? (
        <p class="muted">Loading…</p>
      ) : !user ? (
        <p>There is no one called @{username}.</p>
      ) : (
        <div class="card stack">
          <div class="row">
            <Avatar name={user.display_name} userId={user.id} />
            <h1 class="grow">
              {user.display_name} <span class="muted">@{user.username}</span>
            </h1>
          </div>
          {user.bio && <p>{user.bio}</p>}
          {user.id !== me.value?.id && (
            <div class="row">
              <button class="primary" disabled={dm.busy} onClick={() => void dm.run(async () => navigate(`/r/${(await api.openDm(user.id)).id}`))}>
                Message
              </button>
            </div>
          )}
          <ErrorText error={dm.error} />
        </div>
      )}
      <ErrorText error={found.error} />
    </section>
  );
}
