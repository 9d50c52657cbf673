// "N new messages — Jump": shown while the first unread message is above the visible part of the room.
import { badgeCount } from '../../lib/format';

export function UnreadBar({ count, onJump, onDismiss }: { count: number; onJump: () => void; onDismiss: () => void }) {
  return (
    <div class="unread-bar" role="region" aria-label="Unread messages">
      <button type="button" class="linkish grow" onClick={onJump}>
        {count > 0 ? `${badgeCount(count)} new ${count === 1 ? 'message' : 'messages'}` : 'New messages'} — jump to the first unread ↑
      </button>
      <button type="button" class="icon small" onClick={onDismiss} aria-label="Hide the unread bar">✕</button>
    </div>
  );
}
