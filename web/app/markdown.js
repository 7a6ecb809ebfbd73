// The Markdown subset of messages: **bold**, *italic*, ~~strikethrough~~,
// `code`, fenced code blocks, > quotes, - and 1. lists, [links](https://...)
// and bare http(s) links. parse() turns text into a small tree of plain
// objects; render() turns the tree into Vue vnodes whose text is always
// text nodes: no HTML is ever made from a message, so markup in it shows
// as written. Both run in time linear in the text for any input that the
// server accepts (4 KB), nesting is bounded, and what does not parse is
// shown as the characters that were typed.
import { h } from '/vendor/vue.runtime.esm-browser.prod.js';
import { linkify } from './text.js';
import { t } from './i18n.js';

const MAX_DEPTH = 4;        // nested quotes, and emphasis inside emphasis
const SAFE_SCHEMES = ['http:', 'https:', 'mailto:'];

// ---------- blocks ----------

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]{0,20})\s*$/;
const QUOTE = /^ {0,3}> ?/;
const BULLET = /^ {0,3}[-*+][ \t]+/;
const NUMBER = /^ {0,3}(\d{1,9})[.)][ \t]+/;

// parse returns the blocks of text: {t:'p', c:[inline]}, {t:'pre', v},
// {t:'quote', c:[blocks]}, {t:'ul'|'ol', start, items:[[inline]]}.
export function parse(text) {
  return blocks(String(text ?? '').replace(/\r\n?/g, '\n').split('\n'), 0);
}

function blocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    const fence = line.match(FENCE);
    if (fence) {
      // Up to the closing fence, or to the end of the message.
      const close = fence[1][0];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[1]) && lines[i].trim().split('').every((ch) => ch === close))) body.push(lines[i++]);
      i++;
      out.push({ t: 'pre', lang: fence[2], v: body.join('\n') });
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const inner = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE, ''));
      out.push({ t: 'quote', c: blocks(inner, depth + 1) });
      continue;
    }
    const kind = BULLET.test(line) ? 'ul' : NUMBER.test(line) ? 'ol' : '';
    if (kind) {
      const marker = kind === 'ul' ? BULLET : NUMBER;
      const start = kind === 'ol' ? Number(line.match(NUMBER)[1]) : 1;
      const items = [];
      while (i < lines.length && lines[i].trim()) {
        if (marker.test(lines[i])) items.push([lines[i].replace(marker, '')]);
        else if (/^\s/.test(lines[i]) || !startsBlock(lines[i])) items[items.length - 1].push(lines[i].trim());
        else break;
        i++;
      }
      out.push({ t: kind, start, items: items.map((l) => inline(l.join('\n'), 0)) });
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && (para.length === 0 || !startsBlock(lines[i]))) para.push(lines[i++]);
    out.push({ t: 'p', c: inline(para.join('\n'), 0) });
  }
  return out;
}

function startsBlock(line) {
  return FENCE.test(line) || QUOTE.test(line) || BULLET.test(line) || NUMBER.test(line);
}

// ---------- inline ----------

const PUNCT = /[!-/:-@[-`{-~]/;

// inline returns the inline nodes of s: strings, {t:'code', v},
// {t:'strong'|'em'|'del', c}, {t:'link', href, c}, {t:'br'}.
function inline(s, depth, inLink = false) {
  const out = [];
  let text = '';
  // Delimiters found to have no closer from some point on have none from
  // any later point either: remembering it keeps hostile texts linear.
  const unclosed = new Set();
  const flush = () => { if (text) { out.push(text); text = ''; } };
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length && PUNCT.test(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (ch === '\n') { flush(); out.push({ t: 'br' }); i++; continue; }
    if (ch === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const fence = '`'.repeat(n);
      const end = unclosed.has(fence) ? -1 : closingRun(s, fence, i + n);
      if (end < 0) { unclosed.add(fence); text += fence; i += n; continue; }
      flush();
      let v = s.slice(i + n, end);
      if (v.length > 2 && v.startsWith(' ') && v.endsWith(' ')) v = v.slice(1, -1);
      out.push({ t: 'code', v });
      i = end + n;
      continue;
    }
    if ((ch === '*' || ch === '_' || ch === '~') && depth < MAX_DEPTH) {
      const span = emphasis(s, i, unclosed);
      if (span) {
        flush();
        out.push({ t: span.t, c: inline(s.slice(span.from, span.to), depth + 1, inLink) });
        i = span.end;
        continue;
      }
    }
    if (ch === '[' && !inLink && !unclosed.has('](')) {
      const link = linkAt(s, i, unclosed);
      if (link) {
        flush();
        out.push({ t: 'link', href: link.href, c: inline(link.label, depth + 1, true) });
        i = link.end;
        continue;
      }
    }
    // A run of the same delimiter that opened nothing is text as a whole:
    // trying each of its characters again would be quadratic.
    if (ch === '*' || ch === '_' || ch === '~' || ch === '`') {
      let n = 1;
      while (s[i + n] === ch) n++;
      text += s.slice(i, i + n);
      i += n;
      continue;
    }
    text += ch;
    i++;
  }
  flush();
  return out;
}

// closingRun finds a run of exactly fence.length backticks from `from`.
function closingRun(s, fence, from) {
  for (let j = s.indexOf(fence, from); j >= 0; j = s.indexOf(fence, j + 1)) {
    if (s[j - 1] !== '`' && s[j + fence.length] !== '`') return j;
    while (s[j + 1] === '`') j++;
  }
  return -1;
}

const WORD = /[\p{L}\p{N}]/u;

// emphasis returns the span that a delimiter at i opens: ** or __ strong,
// * or _ em, ~~ del. The opener must be followed, and the closer preceded,
// by a non-space; _ must also stand outside a word (snake_case stays).
function emphasis(s, i, unclosed) {
  const ch = s[i];
  const double = s[i + 1] === ch;
  if (ch === '~' && !double) return null;
  const delim = double ? ch + ch : ch;
  if (unclosed.has(delim)) return null;
  const from = i + delim.length;
  if (s[from] === undefined || /\s/.test(s[from]) || s[from] === ch) return null;
  if (ch === '_' && i > 0 && WORD.test(s[i - 1])) return null;
  for (let j = s.indexOf(delim, from + 1); j >= 0; j = s.indexOf(delim, j + 1)) {
    if (/\s/.test(s[j - 1])) continue;
    if (!double && s[j + 1] === ch) { j++; continue; } // part of a ** inside: not this closer
    if (ch === '_' && s[j + delim.length] !== undefined && WORD.test(s[j + delim.length])) continue;
    return { t: ch === '~' ? 'del' : double ? 'strong' : 'em', from, to: j, end: j + delim.length };
  }
  unclosed.add(delim);
  return null;
}

// linkAt reads [label](url) at i, for a URL with a safe scheme only.
function linkAt(s, i, unclosed) {
  const close = s.indexOf('](', i + 1);
  if (close < 0) { unclosed.add(']('); return null; }
  const label = s.slice(i + 1, close);
  if (!label || label.includes('\n') || label.includes('[')) return null;
  const end = s.indexOf(')', close + 2);
  if (end < 0) return null;
  const href = safeHref(s.slice(close + 2, end).trim());
  if (!href) return null;
  return { label, href, end: end + 1 };
}

// safeHref returns the URL in normal form when its scheme is safe, else ''.
export function safeHref(raw) {
  if (!raw || /[\s<>"'`\\]/.test(raw) || /[\u0000-\u001f\u007f]/.test(raw)) return '';
  let u;
  try { u = new URL(raw); } catch { return ''; }
  return SAFE_SCHEMES.includes(u.protocol) ? u.href : '';
}

// ---------- rendering ----------

// render returns the vnodes of text's Markdown.
export function render(text, opts = {}) {
  return parse(text).map((b, k) => block(b, k, opts));
}

function block(b, key, opts) {
  switch (b.t) {
    case 'pre':
      return h('div', { class: 'md-code', key }, [
        h('button', {
          class: 'md-copy button is-small', type: 'button', title: t('md.copyCode'), 'aria-label': t('md.copyCode'),
          onClick: (e) => copy(b.v, e.currentTarget),
        }, t('md.copy')),
        h('pre', h('code', b.v)),
      ]);
    case 'quote':
      return h('blockquote', { class: 'md-quote', key }, b.c.map((x, k) => block(x, k, opts)));
    case 'ul':
    case 'ol':
      return h(b.t, { class: 'md-list', key, start: b.t === 'ol' && b.start !== 1 ? b.start : null },
        b.items.map((it, k) => h('li', { key: k }, nodes(it))));
    default:
      return h('p', { class: 'md-p', key }, nodes(b.c));
  }
}

function nodes(list) {
  const out = [];
  for (const n of list) {
    if (typeof n === 'string') { out.push(...linkify(n)); continue; }
    switch (n.t) {
      case 'br': out.push(h('br')); break;
      case 'code': out.push(h('code', { class: 'md-inline-code' }, n.v)); break;
      case 'link': out.push(h('a', { href: n.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, plain(n.c))); break;
      default: out.push(h(n.t === 'del' ? 's' : n.t, nodes(n.c)));
    }
  }
  return out;
}

// plain renders a link's label: its emphasis, but no links inside a link.
function plain(list) {
  return list.map((n) => {
    if (typeof n === 'string') return n;
    if (n.t === 'br') return h('br');
    if (n.t === 'code') return h('code', { class: 'md-inline-code' }, n.v);
    return h(n.t === 'del' ? 's' : n.t === 'link' ? 'span' : n.t, plain(n.c));
  });
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    if (button) { button.textContent = t('md.copied'); setTimeout(() => { button.textContent = t('md.copy'); }, 1500); }
  } catch {
    if (button) button.textContent = t('md.copyFailed');
  }
}

// toText is the plain text of a message for quotes and notifications: the
// Markdown signs taken away.
export function toText(text) {
  const walk = (list) => list.map((n) => (typeof n === 'string' ? n : n.t === 'br' ? ' ' : n.t === 'code' ? n.v : walk(n.c))).join('');
  return parse(text).map((b) => {
    if (b.t === 'pre') return b.v;
    if (b.t === 'quote') return '';
    if (b.t === 'ul' || b.t === 'ol') return b.items.map(walk).join(', ');
    return walk(b.c);
  }).filter(Boolean).join(' ').replace(/\s+/g, ' ').trim();
}
