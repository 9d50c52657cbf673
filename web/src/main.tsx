import { render } from 'preact';
import './styles.css';
import './flow.css';
import { parseHash, route } from './state/router';
import { restoreSession } from './state/session';
import { App } from './ui/App';

// An invite link opened as a path (/invite/<token>) becomes the client's own route.
if (location.pathname.startsWith('/invite/')) {
  history.replaceState(null, '', '/#' + location.pathname);
  route.value = parseHash(location.hash);
}

render(<App />, document.getElementById('app')!);
void restoreSession();
