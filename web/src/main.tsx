import { render } from 'preact';
import './styles.css';
import './flow.css';
import { restoreSession } from './state/session';
import { App } from './ui/App';

render(<App />, document.getElementById('app')!);
void restoreSession();
