// Sign up and log in.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { href, navigate, route } from '../state/router';
import { startSession } from '../state/session';
import { ErrorText, useAction } from './common';

export function Auth() {
  const signup = route.value.path[0] === 'signup';
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run, setError } = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (signup && password.length < 10) {
      setError(new Error('The password is too short: use at least 10 characters.'));
      return;
    }
    await run(async () => {
      const res = signup
        ? await api.register(username.trim(), displayName.trim() || username.trim(), password)
        : await api.login(username.trim(), password);
      await startSession(res);
      navigate('/');
    });
  };

  return (
    <main class="auth">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <h1 class="brand">Flowly</h1>
        <h2 id="auth-title">{signup ? 'Create your account' : 'Log in'}</h2>
        <label>
          Username
          <input
            name="username" autocomplete="username" required value={username} autoFocus
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
          />
        </label>
        {signup && (
          <label>
            Display name
            <input
              name="display_name" autocomplete="name" value={displayName} placeholder={username || 'Your name'}
              onInput={(e) => setDisplayName((e.target as HTMLInputElement).value)}
            />
          </label>
        )}
        <label>
          Password
          <input
            name="password" type="password" required value={password}
            autocomplete={signup ? 'new-password' : 'current-password'}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
          {signup && <small class="hint">At least 10 characters.</small>}
        </label>
        <ErrorText error={error} />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Please wait…' : signup ? 'Sign up' : 'Log in'}
        </button>
        <p class="muted">
          {signup ? (
            <>Already have an account? <a href={href('/login')}>Log in</a></>
          ) : (
            <>New here? <a href={href('/signup')}>Create an account</a></>
          )}
        </p>
      </form>
    </main>
  );
}
