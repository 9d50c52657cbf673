// Flowly's service worker: shows the Web Push notifications the server sends while no Flowly tab
// is open (a mention, a DM, a task assigned to you), and opens the right place when one is
// clicked. Served from the web root so its scope is the whole client. The payload is JSON:
// {"reason", "room", "id", "title", "body", "url"} (docs/protocol.md, "Notifications").

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let notice = null;
  try {
    notice = event.data ? event.data.json() : null;
  } catch {
    notice = null;
  }
  if (!notice || typeof notice.title !== 'string') return;
  const url = typeof notice.url === 'string' && notice.url.startsWith('/') ? notice.url : '/';
  event.waitUntil(
    self.registration.showNotification(notice.title, {
      body: typeof notice.body === 'string' ? notice.body : '',
      tag: notice.room ? `room-${notice.room}` : undefined,
      data: { url },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url ?? '/', self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (!open) return self.clients.openWindow(url);
      // navigate() works only on a page this worker controls; focusing it is enough otherwise.
      return open.focus().then((w) => w.navigate(url).catch(() => w));
    }),
  );
});
