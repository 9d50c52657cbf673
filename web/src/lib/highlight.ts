// Syntax highlighting for code blocks, loaded on first use as a chunk of its own (it is not part
// of the first page load). lowlight (highlight.js's grammars) returns a syntax tree, never HTML;
// its spans become vnodes carrying only a class.

import { createLowlight } from 'lowlight';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { h, type ComponentChildren } from 'preact';
import './highlight.css';

const lowlight = createLowlight({ bash, css, diff, go, javascript, json, python, rust, sql, typescript, xml, yaml });
lowlight.registerAlias({ bash: ['sh', 'shell', 'console'], javascript: ['js', 'jsx'], typescript: ['ts', 'tsx'], xml: ['html'], yaml: ['yml'], python: ['py'], rust: ['rs'] });

/** Longest code block that is highlighted without a language being named. */
const AUTO_MAX_CHARS = 4000;

interface HastText {
  type: 'text';
  value: string;
}
interface HastElement {
  type: 'element';
  properties?: { className?: unknown };
  children: HastNode[];
}
type HastNode = HastText | HastElement | { type: string };

function toVnodes(nodes: HastNode[], key: string): ComponentChildren[] {
  return nodes.map((n, i) => {
    if (n.type === 'text') return (n as HastText).value;
    if (n.type !== 'element') return null;
    const el = n as HastElement;
    const classes = Array.isArray(el.properties?.className) ? el.properties.className.filter((c) => typeof c === 'string') : [];
    return h('span', { key: `${key}.${i}`, class: classes.join(' ') || undefined }, toVnodes(el.children, `${key}.${i}`));
  });
}

/** `code` highlighted as `lang` (or guessed when no language is named); null when it cannot be. */
export function highlight(code: string, lang: string): ComponentChildren[] | null {
  try {
    if (lang) return lowlight.registered(lang) ? toVnodes(lowlight.highlight(lang, code).children as HastNode[], 'hl') : null;
    if (code.length > AUTO_MAX_CHARS) return null;
    const tree = lowlight.highlightAuto(code);
    return tree.data?.relevance ? toVnodes(tree.children as HastNode[], 'hl') : null;
  } catch {
    return null;
  }
}
