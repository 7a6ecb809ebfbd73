// Text helpers: every piece of user-written text becomes Vue text nodes or
// <a> elements built here, never HTML.
import { h } from '/vendor/vue.runtime.esm-browser.prod.js';
import { t, dateFormat } from './i18n.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

// linkify splits text into strings and safe links (http and https only).
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = url.match(TRAILING);
    // Keep a closing parenthesis that belongs to the URL, e.g. wiki links.
    if (trail && !(trail[0].startsWith(')') && url.includes('('))) url = url.slice(0, -trail[0].length);
    let parsed;
    try { parsed = new URL(url); } catch { continue; }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, url));
    last = m.index + url.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// mentions reports whether text names userName as a word ("@Alice" or "Alice").
export function mentions(text, userName) {
  if (!userName) return false;
  const re = new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escapeRe(userName)}($|[^\\p{L}\\p{N}_])`, 'iu');
  return re.test(text);
}

// Dates and times in the app's language (i18n.js).
export function shortTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : dateFormat('time', { hour: '2-digit', minute: '2-digit' }).format(d);
}

export function fullTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : dateFormat('full', { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

export function dayLabel(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000);
  if (d.toDateString() === today.toDateString()) return t('day.today');
  if (d.toDateString() === yesterday.toDateString()) return t('day.yesterday');
  return dateFormat('day', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(d);
}

const segmenter = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;

// graphemes splits text into what a reader sees as characters: an emoji
// with skin tone or a family of several code points is one.
function graphemes(s) {
  return segmenter ? [...segmenter.segment(s)].map((x) => x.segment) : [...s];
}

const PICTOGRAPH = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

// initials is what an avatar shows for a name: the first letters of its
// first two words ("Bob Builder": "BB"), the first two of a single word
// ("Alice": "AL"), or only the emoji a name starts with ("🦊 Fox": "🦊"),
// never half of one.
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean).map(graphemes);
  if (!words.length) return '?';
  const first = words[0][0];
  if (PICTOGRAPH.test(first)) return first;
  const second = words.length > 1 && !PICTOGRAPH.test(words[1][0]) ? words[1][0] : words[0][1] || '';
  return (first + (PICTOGRAPH.test(second) ? '' : second)).toUpperCase();
}

// hue picks a stable avatar colour for a user id.
export function hue(id) {
  let x = 0;
  for (const c of String(id)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

// unescapeAnnouncement turns the HTML-escaped names in the server's
// announcements ("💬 Tom &amp; Jerry has joined the chat", escaped for the
// original client, which renders them as HTML) back into plain text, which
// this client shows as text.
export function unescapeAnnouncement(s) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return String(s).replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (named[k]) return named[k];
    const code = k.startsWith('#x') ? parseInt(k.slice(2), 16) : parseInt(k.slice(1), 10);
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
  });
}
