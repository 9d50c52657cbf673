// @vitest-environment happy-dom
import { render } from 'preact';
import { describe, expect, it } from 'vitest';
import { highlight } from './highlight';
import { renderMarkdown, safeHref } from './markdown';

function html(source: string): HTMLElement {
  const root = document.createElement('div');
  render(<>{renderMarkdown(source)}</>, root);
  return root;
}

describe('markdown is rendered safely', () => {
  it('keeps a script tag as text', () => {
    const root = html('hello <script>alert(1)</script> world');
    expect(root.querySelector('script')).toBeNull();
    expect(root.textContent).toBe('hello <script>alert(1)</script> world');
  });

  it('keeps an image with an onerror handler as text, inline and as a block', () => {
    for (const source of ['look <img src=x onerror="alert(1)">', '<img src=x onerror=alert(1)>']) {
      const root = html(source);
      expect(root.querySelector('img')).toBeNull();
      expect(root.innerHTML).not.toContain('<img');
      expect(root.textContent).toContain('<img src=x onerror');
    }
  });

  it('keeps raw html blocks, iframes and anchors as text', () => {
    const root = html('<div onclick="x()">hi</div>\n\n<iframe src="https://evil.example"></iframe> <a href="javascript:alert(1)">a</a>');
    expect(root.querySelectorAll('div, iframe, a').length).toBe(0);
    expect(root.textContent).toContain('<iframe src="https://evil.example"></iframe>');
  });

  it('drops link targets that are not http, https or mailto', () => {
    const root = html('[one](javascript:alert(1)) [two](data:text/html,x) [three](vbscript:x) [four](/relative)');
    expect(root.querySelectorAll('a').length).toBe(0);
    expect(root.textContent).toBe('one two three four');
    expect(safeHref('JAVASCRIPT:alert(1)')).toBeNull();
    expect(safeHref(' javascript:alert(1)')).toBeNull();
    expect(safeHref('mailto:ann@example.com')).toBe('mailto:ann@example.com');
  });

  it('opens links in a new tab without an opener or referrer', () => {
    const root = html('[docs](https://example.com/a?b=1) and https://flowly.example/x.');
    const links = [...root.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/a?b=1', 'https://flowly.example/x']);
    for (const a of links) {
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
      expect(a.getAttribute('target')).toBe('_blank');
    }
    expect(root.textContent).toBe('docs and https://flowly.example/x.');
  });

  it('shows images as links, loading nothing', () => {
    const root = html('![diagram](https://example.com/d.png)');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('a')?.textContent).toBe('diagram');
  });

  it('keeps markup inside code as text', () => {
    const root = html('`<b>x</b>` and\n\n```html\n<script>alert(1)</script>\n```');
    expect(root.querySelector('b, script')).toBeNull();
    expect(root.querySelector('p code')?.textContent).toBe('<b>x</b>');
    expect(root.querySelector('pre code')?.textContent).toBe('<script>alert(1)</script>');
    expect(root.querySelector('pre code')?.className).toBe('language-html');
  });
});

describe('markdown formats', () => {
  it('emphasis, strong, strike, inline code and line breaks', () => {
    const root = html('*em* **strong** ~~gone~~ `code`\nnext line');
    expect(root.querySelector('em')?.textContent).toBe('em');
    expect(root.querySelector('strong')?.textContent).toBe('strong');
    expect(root.querySelector('del')?.textContent).toBe('gone');
    expect(root.querySelector('code')?.textContent).toBe('code');
    expect(root.querySelector('br')).not.toBeNull();
  });

  it('lists and block quotes', () => {
    const root = html('- one\n- **two**\n\n3. three\n4. four\n\n> quoted\n> text');
    expect([...root.querySelectorAll('ul > li')].map((li) => li.textContent)).toEqual(['one', 'two']);
    expect(root.querySelector('ul strong')?.textContent).toBe('two');
    expect(root.querySelector('ol')?.getAttribute('start')).toBe('3');
    expect(root.querySelector('blockquote')?.textContent).toBe('quotedtext');
  });

  it('links @mentions to the user and #task references to the task', () => {
    const task = '0193a2b4-5c6d-7e8f-9012-3456789abcde';
    const root = html(`ping @Bob. about #${task}, not mail@example or #12`);
    const mention = root.querySelector('a.mention')!;
    expect(mention.textContent).toBe('@Bob');
    expect(mention.getAttribute('href')).toBe('#/u/bob');
    const ref = root.querySelector('a.task-ref')!;
    expect(ref.getAttribute('href')).toBe(`#/t/${task}`);
    expect(root.querySelectorAll('a.mention').length).toBe(1);
    expect(root.textContent).toBe(`ping @Bob. about #${task}, not mail@example or #12`);
  });

  it('does not nest links inside links', () => {
    const root = html('[see @bob and https://x.example](https://example.com)');
    expect(root.querySelectorAll('a').length).toBe(1);
    expect(root.querySelector('a')?.textContent).toBe('see @bob and https://x.example');
  });
});

describe('the highlighter', () => {
  it('makes spans with classes only, the code staying text', () => {
    const root = document.createElement('div');
    render(<code>{highlight('const a = "<b>x</b>"; // <script>', 'js')}</code>, root);
    expect(root.querySelector('b, script')).toBeNull();
    expect(root.textContent).toBe('const a = "<b>x</b>"; // <script>');
    expect(root.querySelector('span.hljs-keyword')?.textContent).toBe('const');
    expect(root.querySelector('span.hljs-string')).not.toBeNull();
  });

  it('leaves unknown languages to the plain block', () => {
    expect(highlight('x', 'cobol')).toBeNull();
  });
});
