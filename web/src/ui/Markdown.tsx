// A message's or an answer's Markdown (see lib/markdown.ts), with code blocks highlighted once the
// highlighter's chunk has loaded (plain until then, and if it cannot load).
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { renderMarkdown, type TextRenderer } from '../lib/markdown';
import './markdown.css';

type Highlighter = typeof import('../lib/highlight').highlight;

let highlighter: Highlighter | null = null;
let loading: Promise<Highlighter | null> | null = null;

function loadHighlighter(): Promise<Highlighter | null> {
  loading ??= import('../lib/highlight').then(
    (m) => (highlighter = m.highlight),
    () => null,
  );
  return loading;
}

function CodeBlock({ code, lang }: { code: string; lang: string }) {
  const [ready, setReady] = useState(highlighter !== null);
  useEffect(() => {
    if (!ready) void loadHighlighter().then((h) => h && setReady(true));
  }, [ready]);
  const highlighted = useMemo(() => (ready && highlighter ? highlighter(code, lang) : null), [ready, code, lang]);
  return (
    <pre class="code-block" data-lang={lang || undefined}>
      <code class={lang ? `language-${lang}` : undefined}>{highlighted ?? code}</code>
    </pre>
  );
}

export function Markdown({ text, render }: { text: string; render?: TextRenderer }): ComponentChildren {
  return useMemo(
    () => renderMarkdown(text, { text: render, code: (code, lang, key) => <CodeBlock key={key} code={code} lang={lang} /> }),
    [text, render],
  );
}
