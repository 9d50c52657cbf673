// Message search (GET search?q=): hits with highlighted snippets, opening the room at the message.
import { useState } from 'preact/hooks';
import { api } from '../api/endpoints';
import { snippetParts, dateTimeOf } from '../lib/format';
import { href, navigate, route } from '../state/router';
import { ErrorText, useLoad } from './common';

export function Search() {
  const q = route.value.query.get('q') ?? '';
  const [text, setText] = useState(q);
  const hits = useLoad(() => (q ? api.search(q) : Promise.resolve([])), [q]);
  return (
    <section class="screen">
      <h1>Search messages</h1>
      <form
        class="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) navigate(`/search?q=${encodeURIComponent(text.trim())}`);
        }}
      >
        <input
          class="grow"
          type="search"
          aria-label="Search words"
          placeholder='Words, "a phrase", or, -exclude'
          value={text}
          maxLength={200}
          autoFocus
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button class="primary" type="submit">Search</button>
      </form>
      <ErrorText error={hits.error} />
      {q && hits.loading && <p class="muted">Searching…</p>}
      {q && !hits.loading && hits.data?.length === 0 && <p class="muted">No messages match “{q}”.</p>}
      <ul class="plain rows">
        {hits.data?.map((h) => (
          <li key={h.message_id} class="hit">
            <a href={h.task_id ? href(`/t/${h.task_id}`) : href(`/r/${h.room_id}?m=${h.seq}`)}>
              <span class="muted small">
                {h.room_name}{h.task_id ? ' · task discussion' : ''} · {h.author_display_name} · {dateTimeOf(h.created_at)}
              </span>
              <span class="snippet">
                {snippetParts(h.snippet).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : p.text))}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}
