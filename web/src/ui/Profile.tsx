// Profile (display name, bio), password, active sessions (revoke), log out.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { confirmDialog } from './dialog';
import { dateTimeOf } from '../lib/format';
import { logout } from '../state/session';
import { me, toast } from '../state/store';
import { ErrorText, useAction, useLoad } from './common';

export function Profile() {
  const user = me.value!;
  const [name, setName] = useState(user.display_name);
  const [bio, setBio] = useState(user.bio);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const profile = useAction();
  const password = useAction();
  const sess = useAction();
  const sessions = useLoad(() => api.sessions(), []);

  return (
    <section class="screen">
      <h1>Profile</h1>
      <form
        class="stack card"
        onSubmit={(e) => {
          e.preventDefault();
          void profile.run(async () => {
            me.value = await api.updateMe({ display_name: name.trim(), bio: bio.trim() });
            toast('Profile saved.');
          });
        }}
      >
        <p class="muted">@{user.username}{user.is_admin ? ' · administrator' : ''}</p>
        <label>
          Display name
          <input required maxLength={64} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Bio
          <textarea rows={3} maxLength={500} value={bio} onInput={(e) => setBio((e.target as HTMLTextAreaElement).value)} />
        </label>
        <ErrorText error={profile.error} />
        <button class="primary" type="submit" disabled={profile.busy}>Save profile</button>
      </form>

      <form
        class="stack card"
        onSubmit={(e) => {
          e.preventDefault();
          void password.run(async () => {
            await api.changePassword(current, next);
            setCurrent('');
            setNext('');
            toast('Password changed. Your other sessions were logged out.');
            sessions.reload();
          });
        }}
      >
        <h2>Change password</h2>
        <label>
          Current password
          <input type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          New password
          <input type="password" autocomplete="new-password" required minLength={10} value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} />
          <small class="hint">At least 10 characters.</small>
        </label>
        <ErrorText error={password.error} />
        <button type="submit" disabled={password.busy}>Change password</button>
      </form>

      <section class="card">
        <h2>Active sessions</h2>
        <ErrorText error={sessions.error || sess.error} />
        <ul class="plain rows">
          {sessions.data?.sessions.map((s) => (
            <li key={s.id} class="row wrap">
              <span class="grow">
                <strong>{s.user_agent || 'Unknown device'}</strong>
                {s.id === sessions.data!.current && <span class="tag">this device</span>}
                <br />
                <span class="muted small">
                  {s.ip} · since {dateTimeOf(s.created_at)} · last seen {dateTimeOf(s.last_seen_at)} · expires {dateTimeOf(s.expires_at)}
                </span>
              </span>
              {s.id !== sessions.data!.current && (
                <button class="small danger" disabled={sess.busy} onClick={() => void sess.run(async () => (await api.revokeSession(s.id), sessions.reload()))}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
        <div class="row wrap">
          <button onClick={() => void logout(false)}>Log out</button>
          <button class="danger" onClick={async () => (await confirmDialog({ title: 'Log out on every device?', confirmLabel: 'Log out everywhere', danger: true })) && void logout(true)}>Log out everywhere</button>
        </div>
      </section>
    </section>
  );
}
