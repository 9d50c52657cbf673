// Markdown for messages and answers, rendered safely: `marked`'s lexer parses the text into tokens,
// and this file turns the tokens it knows into Preact vnodes. Nothing is ever parsed as HTML:
// raw HTML in a message (`<script>`, `<img onerror>`) is a token of its own that is shown as text,
// links keep only http, https and mailto targets, and images are shown as links (no request leaves
// the page for a picture someone pasted).
//
// Supported: paragraphs with line breaks, *emphasis*, **strong**, ~~strike~~, `code`, fenced code
// blocks (highlighted once the highlighter's chunk has loaded), lists, block quotes, links, bare
// URLs, @mentions (to the user) and #<task id> references (to the task). Headings read as strong
// paragraphs and tables as their text: a chat message is not a document.

import { Lexer, type Token, type Tokens } from 'marked';
import { h, type ComponentChildren } from 'preact';

/** What plain text turns into: the default finds mentions, task references and bare URLs. */
export type TextRenderer = (text: string, key: string) => ComponentChildren;

/** Renders a fenced code block; the default is a plain `<pre><code>`. */
export type CodeRenderer = (code: string, lang: string, key: string) => ComponentChildren;

export interface MarkdownOptions {
  text?: TextRenderer;
  code?: CodeRenderer;
}

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** The URL if it is absolute and http, https or mailto; null for anything else. */
export function safeHref(href: string): string | null {
  try {
    const url = new URL(href.trim());
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const MENTION = '@[A-Za-z0-9][A-Za-z0-9_.-]{0,31}';
const TASK_REF = '#[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const BARE_URL = "https?://[^\\s<>\"']+";
// A mention or reference starts a word; a URL may follow punctuation.
const INLINE = new RegExp(`(^|[^A-Za-z0-9_.@#-])(${MENTION}|${TASK_REF})|(${BARE_URL})`, 'g');

/** A bare URL without the punctuation that ends the sentence around it. */
function trimUrl(url: string): string {
  return url.replace(/[.,;:!?)\]]+$/, '');
}

/** Plain text with its @mentions, #task references and bare URLs made into links. */
export function linkifyText(text: string, key: string): ComponentChildren {
  const out: ComponentChildren[] = [];
  let last = 0;
  let n = 0;
  for (const m of text.matchAll(INLINE)) {
    const start = m.index! + (m[1]?.length ?? 0);
    let token = m[2] ?? trimUrl(m[3]);
    if (start > last) out.push(text.slice(last, start));
    const k = `${key}.${n++}`;
    if (token.startsWith('@')) {
      token = token.replace(/[.-]+$/, '');
      out.push(h('a', { key: k, class: 'mention', href: `#/u/${encodeURIComponent(token.slice(1).toLowerCase())}` }, token));
    } else if (token.startsWith('#')) {
      out.push(h('a', { key: k, class: 'task-ref', href: `#/t/${token.slice(1).toLowerCase()}` }, token));
    } else {
      out.push(externalLink(token, token, k));
    }
    last = start + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function externalLink(href: string, children: ComponentChildren, key: string): ComponentChildren {
  return h('a', { key, href, target: '_blank', rel: 'noopener noreferrer' }, children);
}

function plainCode(code: string, lang: string, key: string): ComponentChildren {
  return h('pre', { key }, h('code', { class: lang ? `language-${lang}` : undefined }, code));
}

interface Ctx {
  text: TextRenderer;
  code: CodeRenderer;
  inLink: boolean;
}

function inline(tokens: Token[] | undefined, ctx: Ctx, key: string): ComponentChildren[] {
  return (tokens ?? []).map((t, i) => inlineToken(t, ctx, `${key}.${i}`));
}

function inlineToken(t: Token, ctx: Ctx, key: string): ComponentChildren {
  switch (t.type) {
    case 'strong':
      return h('strong', { key }, inline(t.tokens, ctx, key));
    case 'em':
      return h('em', { key }, inline(t.tokens, ctx, key));
    case 'del':
      return h('del', { key }, inline(t.tokens, ctx, key));
    case 'codespan':
      return h('code', { key }, (t as Tokens.Codespan).text);
    case 'br':
      return h('br', { key });
    case 'link': {
      const link = t as Tokens.Link;
      const href = safeHref(link.href);
      const children = inline(link.tokens, { ...ctx, inLink: true }, key);
      return href && !ctx.inLink ? externalLink(href, children, key) : h('span', { key }, children);
    }
    case 'image': {
      const image = t as Tokens.Image;
      const href = safeHref(image.href);
      const label = image.text || image.href;
      return href && !ctx.inLink ? externalLink(href, label, key) : label;
    }
    case 'text':
      // Text inside a list item may carry inline tokens of its own.
      if ('tokens' in t && t.tokens?.length) return inline(t.tokens, ctx, key);
      return ctx.inLink ? t.text : ctx.text(t.text, key);
    case 'escape':
      return t.text;
    default:
      // Raw HTML and anything unknown: the source, as text.
      return t.raw;
  }
}

function block(tokens: Token[], ctx: Ctx, key: string): ComponentChildren[] {
  return tokens.map((t, i) => blockToken(t, ctx, `${key}.${i}`));
}

function blockToken(t: Token, ctx: Ctx, key: string): ComponentChildren {
  switch (t.type) {
    case 'paragraph':
      return h('p', { key }, inline(t.tokens, ctx, key));
    case 'heading':
      return h('p', { key }, h('strong', null, inline(t.tokens, ctx, key)));
    case 'code': {
      const code = t as Tokens.Code;
      return ctx.code(code.text, (code.lang ?? '').trim().split(/\s+/)[0].toLowerCase(), key);
    }
    case 'blockquote':
      return h('blockquote', { key }, block((t as Tokens.Blockquote).tokens, ctx, key));
    case 'list': {
      const list = t as Tokens.List;
      const items = list.items.map((item, i) => h('li', { key: i }, listItem(item, ctx, `${key}.${i}`)));
      return list.ordered
        ? h('ol', { key, start: typeof list.start === 'number' && list.start !== 1 ? list.start : undefined }, items)
        : h('ul', { key }, items);
    }
    case 'hr':
      return h('hr', { key });
    case 'space':
    case 'def':
      return null;
    case 'text':
      return h('p', { key }, inlineToken(t, ctx, key));
    default:
      // Raw HTML blocks, tables and anything unknown: the source, as text.
      return h('p', { key }, t.raw.replace(/\n+$/, ''));
  }
}

/** A list item's blocks; a tight item's lone paragraph is shown without its own margins. */
function listItem(item: Tokens.ListItem, ctx: Ctx, key: string): ComponentChildren {
  return item.tokens.map((t, i) =>
    t.type === 'text' ? inlineToken(t, ctx, `${key}.${i}`) : blockToken(t, ctx, `${key}.${i}`),
  );
}

/** Parses `source` (gfm: bare URLs and strikethrough; single newlines are line breaks). */
export function parseMarkdown(source: string): Token[] {
  return Lexer.lex(source, { gfm: true, breaks: true });
}

/** `source` rendered as Preact vnodes. */
export function renderMarkdown(source: string, options: MarkdownOptions = {}): ComponentChildren[] {
  const ctx: Ctx = { text: options.text ?? linkifyText, code: options.code ?? plainCode, inLink: false };
  return block(parseMarkdown(source), ctx, 'md');
}
