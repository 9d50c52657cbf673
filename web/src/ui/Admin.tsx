// Administrators: every account, with disable and enable.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { confirmDialog } from './dialog';
import type { User } from '../api/types';
import { dateTimeOf } from '../lib/format';
import { me } from '../state/store';
import { AdminStorage } from './AdminStorage';
import { ErrorText, useAction, useLoad } from './common';

const PAGE = 100;

export function Admin() {
  const user = me.value!;
  const first = useLoad(() => api.adminUsers(undefined, PAGE), []);
  const [more, setMore] = useState<User[]>([]);
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();
  if (!user.is_admin) return <section class="screen"><p class="error">Only administrators can see this page.</p></section>;
  const all = [...(first.data ?? []), ...more];
  const replace = (u: User) => {
    if (first.data?.some((x) => x.id === u.id)) first.set(first.data.map((x) => (x.id === u.id ? u : x)));
    else setMore(more.map((x) => (x.id === u.id ? u : x)));
  };
  const hasMore = !done && (first.data?.length ?? 0) === PAGE && (more.length % PAGE === 0);
  return (
    <section class="screen">
      <AdminStorage />
      <h1>Users</h1>
      <ErrorText error={first.error || error} />
      <div class="table-wrap">
      <table class="users">
        <thead>
          <tr><th>User</th><th>Created</th><th>Status</th><th><span class="sr-only">Actions</span></th></tr>
        </thead>
        <tbody>
          {all.map((u) => (
            <tr key={u.id}>
              <td>{u.display_name} <span class="muted">@{u.username}</span> {u.is_admin && <span class="tag">admin</span>}</td>
              <td class="muted small">{dateTimeOf(u.created_at)}</td>
              <td>{u.disabled ? <span class="tag due-overdue">disabled</span> : 'active'}</td>
              <td>
                {u.disabled ? (
                  <button class="small" disabled={busy} onClick={() => void run(async () => replace(await api.enableUser(u.id)))}>Enable</button>
                ) : (
                  <button class="small danger" disabled={busy || u.id === user.id}
                    onClick={async () => (await confirmDialog({ title: `Disable ${u.username}?`, body: 'Their sessions end.', confirmLabel: 'Disable', danger: true })) && void run(async () => replace(await api.disableUser(u.id)))}>
                    Disable
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      {hasMore && (
        <button
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const page = await api.adminUsers(all[all.length - 1]?.username, PAGE);
              if (page.length < PAGE) setDone(true);
              setMore([...more, ...page]);
            })
          }
        >
          Load more
        </button>
      )}
    </section>
  );
}
