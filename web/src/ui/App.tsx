// The shell: login screens, or the sidebar and the screen the route names.
import { useEffect } from 'preact/hooks';
import { expirePending, pruneTyping, reconnectNow } from '../state/live';
import { href, navigate, route } from '../state/router';
import { booting, dismissToast, me, rooms, toasts } from '../state/store';
import { Admin } from './Admin';
import { AssistantPanel } from './assistant/AssistantPanel';
import { Auth } from './Auth';
import { Friends } from './Friends';
import { InvitePage } from './Invite';
import { MyTasks } from './MyTasks';
import { Profile } from './Profile';
import { RoomScreen } from './room/RoomScreen';
import { Search } from './Search';
import { Sidebar } from './Sidebar';
import { TaskDetail } from './tasks/TaskDetail';
import { ConfirmHost } from './dialog';
import { QuickSwitcher } from './QuickSwitcher';
import { isNewcomer, Welcome } from './Welcome';
import { UserCard } from './UserCard';

function Toasts() {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.value.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          <span>{t.text}</span>
          {t.action && (
            <button class="small toast-action" onClick={() => (dismissToast(t.id), t.action!.run())}>{t.action.label}</button>
          )}
          <button class="icon small" onClick={() => dismissToast(t.id)} aria-label="Dismiss">✕</button>
        </div>
      ))}
    </div>
  );
}

function Home() {
  if (isNewcomer()) return <Welcome />;
  const first = rooms.value[0];
  return (
    <section class="screen home">
      <h1>Welcome, {me.value?.display_name}</h1>
      <p>Pick a room on the left, or start here:</p>
      <ul class="links">
        {first && <li><a href={href(`/r/${first.id}`)}>Open the most recent room</a></li>}
        <li><a href={href('/my-tasks')}>See your tasks</a></li>
        <li><a href={href('/friends')}>Find friends</a> and start a direct message</li>
        <li><a href={href('/search')}>Search messages</a></li>
        <li><a href={href('/assistant')}>Ask the assistant</a> about anything in your rooms</li>
      </ul>
      <p class="muted small">Press <kbd>Ctrl</kbd>+<kbd>K</kbd> (<kbd>⌘</kbd>+<kbd>K</kbd>) to jump to any room, person or task.</p>
    </section>
  );
}

function Main() {
  const [section, id, sub] = route.value.path;
  switch (section) {
    case 'r':
      return <RoomScreen key={id} roomId={id} tab={sub ?? 'chat'} />;
    case 't':
      return <TaskDetail key={id} taskId={id} />;
    case 'my-tasks':
      return <MyTasks />;
    case 'search':
      return <Search />;
    case 'assistant':
      return (
        <section class="screen assistant-screen">
          <AssistantPanel />
        </section>
      );
    case 'friends':
      return <Friends />;
    case 'profile':
      return <Profile />;
    case 'u':
      return <UserCard key={id} username={id} />;
    case 'admin':
      return <Admin />;
    case 'invite':
      return <InvitePage />;
    default:
      return <Home />;
  }
}

export function App() {
  useEffect(() => {
    const t = setInterval(() => {
      pruneTyping();
      expirePending();
    }, 1000);
    const online = () => reconnectNow();
    window.addEventListener('online', online);
    return () => {
      clearInterval(t);
      window.removeEventListener('online', online);
    };
  }, []);

  const user = me.value;
  const section = route.value.path[0];
  const unread = rooms.value.reduce((n, r) => n + r.unread_count, 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Flowly` : 'Flowly';
  }, [unread]);
  useEffect(() => {
    if (!booting.value && user && (section === 'login' || section === 'signup')) navigate('/');
  }, [user, section, booting.value]);

  if (booting.value) return <div class="boot" aria-busy="true">Loading Flowly…</div>;
  if (!user) return (<>{section === 'invite' ? <InvitePage /> : <Auth />}<Toasts /></>);
  const inScreen = section !== undefined;
  return (
    <div class={`shell${inScreen ? ' in-screen' : ''}${isNewcomer() ? ' newcomer' : ''}`}>
      <button class="skip" onClick={() => document.getElementById('main')?.focus()}>Skip to content</button>
      <Sidebar />
      <main id="main" class="main" tabIndex={-1}>
        {inScreen && (
          <a class="back-link" href={href('/')} aria-label="Back to rooms">← Rooms</a>
        )}
        <Main />
      </main>
      <Toasts />
      <QuickSwitcher />
      <ConfirmHost />
    </div>
  );
}
