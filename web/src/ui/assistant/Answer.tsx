// An answer with its numbered citations as links into the conversation, and the sources under it.
import { useMemo } from 'preact/hooks';
import type { Citation } from '../../api/types';
import { answerParts, citationPath } from '../../assistant/requests';
import { dateTimeOf } from '../../lib/format';
import { linkifyText } from '../../lib/markdown';
import { href } from '../../state/router';
import { Markdown } from '../Markdown';

/** An answer as Markdown (answers may hold lists and code), its [n] citations as links. */
export function CitedText({ text, citations }: { text: string; citations: Citation[] }) {
  const render = useMemo(
    () => (leaf: string, key: string) =>
      answerParts(leaf, citations).map((p, i) =>
        'text' in p ? (
          linkifyText(p.text, `${key}.${i}`)
        ) : p.citation ? (
          <a key={`${key}.${i}`} class="cite" href={href(citationPath(p.citation))} title={sourceLabel(p.citation)}>
            [{p.cite}]
          </a>
        ) : (
          <span key={`${key}.${i}`} class="cite muted">[{p.cite}]</span>
        ),
      ),
    [citations],
  );
  return <Markdown text={text} render={render} />;
}

export function sourceLabel(c: Citation): string {
  const who = c.kind === 'task' ? 'task' : c.author ?? 'someone';
  const file = c.kind === 'attachment' && c.filename ? ` · ${c.filename}` : '';
  return `${c.room_name} · ${who}${file} · ${dateTimeOf(c.created_at)}`;
}

export function Sources({ citations }: { citations: Citation[] }) {
  if (citations.length === 0) return null;
  return (
    <ol class="sources" aria-label="Sources">
      {citations.map((c) => (
        <li key={c.n} value={c.n}>
          <a href={href(citationPath(c))}>
            <span class="muted small">{sourceLabel(c)}</span>
            <span class="excerpt">{c.excerpt}</span>
          </a>
        </li>
      ))}
    </ol>
  );
}
