// Invite links: the page a link opens (#/invite/<token>), where a new person registers straight
// into the room or a logged-in one joins it; and the owner's list of links in the room settings.
import { useState } from 'preact/hooks';
import { type CreatedInvite, type InviteLink, inviteLink, invitesApi } from '../api/attachments';
import { setCsrfToken } from '../api/client';
import { api } from '../api/endpoints';
import { describeError } from '../api/errors';
import type { SessionResponse } from '../api/types';
import { refreshRooms } from '../state/live';
import { href, navigate, route } from '../state/router';
import { startSession } from '../state/session';
import { me, toast } from '../state/store';
import { ErrorText, useAction, useLoad } from './common';

/** The page an invite link opens. */
export function InvitePage() {
  const token = route.value.path[1] ?? '';
  const preview = useLoad(() => invitesApi.preview(token), [token]);
  const p = preview.data;
  // Inside the app's shell (logged in) the page is a section of its <main>.
  const Root = me.value ? 'section' : 'main';
  return (
    <Root class="auth invite-page">
      <section class="card auth-card" aria-labelledby="invite-title">
        <h1 class="brand">Flowly</h1>
        {preview.loading && <p class="muted">Opening the invite…</p>}
        {preview.error && (
          <>
            <h2 id="invite-title">This invite cannot be used</h2>
            <p role="alert" class="error">{describeError(preview.error)}</p>
            <p class="muted">Ask the person who sent it for a new link{me.value ? '' : ', or '}{!me.value && <a href={href('/login')}>log in</a>}.</p>
          </>
        )}
        {p && (
          <>
            <h2 id="invite-title">Join {p.room_name}</h2>
            <p class="muted">{p.inviter_display_name ? `${p.inviter_display_name} invited you.` : 'You were invited.'}</p>
            {me.value ? <JoinAsMe token={token} /> : <JoinAsNew token={token} />}
          </>
        )}
      </section>
    </Root>
  );
}

async function enter(roomId: string): Promise<void> {
  await refreshRooms();
  navigate(`/r/${roomId}`);
}

function JoinAsMe({ token }: { token: string }) {
  const { busy, error, run } = useAction();
  return (
    <>
      <p>You are logged in as <strong>{me.value?.display_name}</strong>.</p>
      <ErrorText error={error} />
      <button class="primary" disabled={busy} onClick={() => void run(async () => enter((await invitesApi.accept(token)).room_id))}>
        Join the room
      </button>
    </>
  );
}

function JoinAsNew({ token }: { token: string }) {
  const [login, setLogin] = useState(false);
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run, setError } = useAction();
  const field = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

  const submit = (e: Event) => {
    e.preventDefault();
    if (!login && password.length < 10) {
      setError(new Error('The password is too short: use at least 10 characters.'));
      return;
    }
    void run(async () => {
      let roomId: string;
      let session: SessionResponse;
      if (login) {
        session = await api.login(username.trim(), password);
        setCsrfToken(session.csrf_token);
        roomId = (await invitesApi.accept(token)).room_id;
      } else {
        const res = await invitesApi.register(token, username.trim(), displayName.trim() || username.trim(), password);
        [session, roomId] = [res, res.room_id];
      }
      // To the room first: once the session starts, this page would open the (now used) link again.
      navigate(`/r/${roomId}`);
      await startSession(session);
    });
  };

  return (
    <form class="stack" onSubmit={submit} aria-label={login ? 'Log in and join' : 'Create an account and join'}>
      <label>
        Username
        <input name="username" autocomplete="username" required value={username} autoFocus onInput={field(setUsername)} />
      </label>
      {!login && (
        <label>
          Display name
          <input name="display_name" autocomplete="name" value={displayName} placeholder={username || 'Your name'} onInput={field(setDisplayName)} />
        </label>
      )}
      <label>
        Password
        <input
          name="password" type="password" required value={password}
          autocomplete={login ? 'current-password' : 'new-password'} onInput={field(setPassword)}
        />
        {!login && <small class="hint">At least 10 characters.</small>}
      </label>
      <ErrorText error={error} />
      <button class="primary" type="submit" disabled={busy}>
        {busy ? 'Please wait…' : login ? 'Log in and join' : 'Create account and join'}
      </button>
      <p class="muted">
        {login ? 'New here? ' : 'Already have an account? '}
        <button type="button" class="linkish" onClick={() => setLogin(!login)}>
          {login ? 'Create an account' : 'Log in instead'}
        </button>
      </p>
    </form>
  );
}

const EXPIRY = [
  { hours: 24, label: '1 day' },
  { hours: 168, label: '7 days' },
  { hours: 720, label: '30 days' },
];

/** A group room's invite links, for its owner: make, copy, revoke. */
export function InviteLinks({ roomId }: { roomId: string }) {
  const list = useLoad(() => invitesApi.list(roomId), [roomId]);
  const [uses, setUses] = useState('1');
  const [hours, setHours] = useState('168');
  const [made, setMade] = useState<CreatedInvite | null>(null);
  const { busy, error, run } = useAction();

  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      setMade(await invitesApi.create(roomId, uses === 'many' ? null : Number(uses), Number(hours)));
      list.reload();
    });
  };
  const copy = (link: string) =>
    navigator.clipboard?.writeText(link).then(() => toast('Invite link copied', 'info'), () => undefined);
  const revoke = (i: InviteLink) => void run(async () => (await invitesApi.revoke(roomId, i.id), list.reload()));

  return (
    <section class="stack invite-links" aria-label="Invite links">
      <h3>Invite with a link</h3>
      <p class="muted small">Anyone with the link can join, even without an account. Only you see these links.</p>
      <form class="row wrap" onSubmit={create}>
        <label>
          Uses
          <select value={uses} onChange={(e) => setUses((e.target as HTMLSelectElement).value)}>
            <option value="1">One person</option>
            <option value="10">10 people</option>
            <option value="many">Anyone until it expires</option>
          </select>
        </label>
        <label>
          Expires after
          <select value={hours} onChange={(e) => setHours((e.target as HTMLSelectElement).value)}>
            {EXPIRY.map((x) => <option key={x.hours} value={x.hours}>{x.label}</option>)}
          </select>
        </label>
        <button type="submit" disabled={busy}>Create link</button>
      </form>
      {made && (
        <div class="row invite-made">
          <input readOnly aria-label="New invite link" value={inviteLink(made.token)} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          <button type="button" onClick={() => void copy(inviteLink(made.token))}>Copy</button>
        </div>
      )}
      <ErrorText error={error || list.error} />
      <ul class="plain">
        {(list.data ?? []).map((i) => (
          <li key={i.id} class="row">
            <span class="grow">
              {i.uses}{i.max_uses ? ` of ${i.max_uses}` : ''} used · {linkState(i)}
            </span>
            {!i.revoked_at && new Date(i.expires_at) > new Date() && (
              <button type="button" class="small danger" disabled={busy} onClick={() => revoke(i)}>Revoke</button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function linkState(i: InviteLink): string {
  if (i.revoked_at) return 'revoked';
  if (new Date(i.expires_at) <= new Date()) return 'expired';
  if (i.max_uses && i.uses >= i.max_uses) return 'used up';
  return `expires ${new Date(i.expires_at).toLocaleDateString()}`;
}
