// The search box of the top bar: finds messages in the caller's chats
// (GET /api/search, filters in:#chat from:@handle has:file before: after:),
// grouped by chat with the matching words marked, and switches to a chat or
// a person by name. Opened with "/" or Ctrl+K. Every piece of user text
// becomes text nodes or <mark> elements holding text, never HTML.
import { h, ref, computed, nextTick, onMounted, onBeforeUnmount } from '/vendor/vue.runtime.esm-browser.prod.js';
import { state, openChat, startPrivateChat, chatName, isPrivate, errorText, toast } from './store.js';
import { jumpTo } from './message.js';
import { HttpError } from './api.js';
import { icon } from './icons.js';
import { shortTime, fullTime } from './text.js';
import { t } from './i18n.js';

const DEBOUNCE_MS = 250;
const MAX_QUERY = 1000;      // characters sent; the server ignores more anyway
const MAX_NAMES = 5;         // chats and people offered by name
const SNIPPET = 160;         // characters of a long message shown around its first match

async function getJSON(path) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new HttpError(0, 'network', t('error.unreachable'));
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new HttpError(res.status, data && data.error, data && data.message);
  return data;
}

// marked returns text as strings and <mark> elements for the ranges
// (UTF-16 offsets, as the API gives them), shortened around the first
// match when long.
export function marked(text, ranges) {
  let from = 0;
  let to = text.length;
  if (text.length > SNIPPET) {
    const first = ranges && ranges.length ? ranges[0][0] : 0;
    from = Math.max(0, Math.min(first - 40, text.length - SNIPPET));
    to = Math.min(text.length, from + SNIPPET);
  }
  const out = from > 0 ? ['…'] : [];
  let at = from;
  for (const [s0, e0] of ranges || []) {
    const s = Math.max(s0, at);
    const e = Math.min(e0, to);
    if (e <= s) continue;
    if (s > at) out.push(text.slice(at, s));
    out.push(h('mark', { class: 'search-hit' }, text.slice(s, e)));
    at = e;
  }
  if (at < to) out.push(text.slice(at, to));
  if (to < text.length) out.push('…');
  return out;
}

// byName lists the group chats and online people whose name holds the
// query, when the query is a plain name (no filters).
function byName(q) {
  const needle = q.trim().toLowerCase();
  if (!needle || needle.includes(':')) return [];
  const out = [];
  for (const c of Object.values(state.chats)) {
    if ((c.name || '').toLowerCase().includes(needle)) out.push({ kind: 'chat', key: 'c:' + c.id, id: c.id, name: c.name });
  }
  // The people this page has seen (the directory, members, DM partners).
  for (const u of Object.values(state.people || {})) {
    if (state.me && u.userId === state.me.userId) continue;
    if ((u.userName || '').toLowerCase().includes(needle) || (u.handle || '').toLowerCase().includes(needle.replace(/^@/, ''))) {
      out.push({ kind: 'person', key: 'u:' + u.userId, id: u.userId, name: u.userName });
    }
  }
  out.sort((a, b) => a.name.localeCompare(b.name));
  return out.slice(0, MAX_NAMES);
}

// showMessage opens a chat at a message, with the history around it.
export async function showMessage(chatId, id) {
  await openChat(chatId, { focus: true });
  const view = state.views[chatId];
  if (view && !view.error) await jumpTo(chatId, id);
}

export const SearchBox = {
  setup() {
    const input = ref(null);
    const text = ref('');
    const open = ref(false);
    const busy = ref(false);
    const error = ref('');
    const unsupported = ref(false);
    const results = ref([]);
    const cursor = ref('');
    const searched = ref('');
    const active = ref(0);
    let timer = null;
    let seq = 0;

    const names = computed(() => byName(text.value));
    const groups = computed(() => {
      const out = [];
      const at = {};
      for (const r of results.value) {
        if (!(r.chatId in at)) {
          at[r.chatId] = out.length;
          out.push({ chatId: r.chatId, results: [] });
        }
        out[at[r.chatId]].results.push(r);
      }
      return out;
    });
    // Everything Enter and the arrows move through, in the order shown.
    const choices = computed(() => names.value.concat(groups.value.flatMap((g) => g.results)));

    async function run(more = false) {
      clearTimeout(timer);
      const q = text.value.trim().slice(0, MAX_QUERY);
      const mine = ++seq;
      if (!q) {
        results.value = []; cursor.value = ''; error.value = ''; searched.value = ''; busy.value = false;
        return;
      }
      const params = new URLSearchParams({ q });
      if (more && cursor.value) params.set('cursor', cursor.value);
      busy.value = true;
      error.value = '';
      try {
        const page = await getJSON('/api/search?' + params);
        if (mine !== seq) return;
        results.value = more ? results.value.concat(page.results || []) : (page.results || []);
        cursor.value = page.cursor || '';
        searched.value = q;
        unsupported.value = false;
        if (!more) active.value = 0;
      } catch (err) {
        if (mine !== seq) return;
        if (err instanceof HttpError && err.status === 501) unsupported.value = true;
        else error.value = errorText(err);
        results.value = []; cursor.value = '';
      } finally {
        if (mine === seq) busy.value = false;
      }
    }

    function onInput(e) {
      text.value = e.target.value;
      open.value = true;
      active.value = 0;
      clearTimeout(timer);
      timer = setTimeout(() => run(), DEBOUNCE_MS);
    }

    function show() {
      open.value = true;
      nextTick(() => { if (input.value) { input.value.focus(); input.value.select(); } });
    }
    function hide() {
      open.value = false;
      if (input.value) input.value.blur();
    }

    async function choose(c) {
      hide();
      try {
        if (c.kind === 'chat') await openChat(c.id, { focus: true });
        else if (c.kind === 'person') await startPrivateChat(c.id);
        else await showMessage(c.chatId, Number(c.id));
      } catch (err) {
        toast(t('search.openFailed', { error: errorText(err) }), { kind: 'danger' });
      }
    }

    function onKeydown(e) {
      const n = choices.value.length;
      if (e.key === 'ArrowDown' && n) { active.value = (active.value + 1) % n; e.preventDefault(); }
      else if (e.key === 'ArrowUp' && n) { active.value = (active.value - 1 + n) % n; e.preventDefault(); }
      else if (e.key === 'Escape') { hide(); e.preventDefault(); e.stopPropagation(); }
      else if (e.key === 'Enter') {
        e.preventDefault();
        if (searched.value === text.value.trim() && choices.value[active.value]) choose(choices.value[active.value]);
        else run();
      }
    }

    // "/" outside a text field, and Ctrl+K (Cmd+K) anywhere, open the box.
    function onGlobalKey(e) {
      const t = e.target;
      const typing = t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
      if ((e.key === 'k' || e.key === 'K') && (e.ctrlKey || e.metaKey) && !e.altKey) { e.preventDefault(); show(); }
      else if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); show(); }
    }
    function onGlobalClick(e) {
      if (open.value && !e.target.closest('.search-box')) open.value = false;
    }
    onMounted(() => {
      window.addEventListener('keydown', onGlobalKey);
      document.addEventListener('mousedown', onGlobalClick);
    });
    onBeforeUnmount(() => {
      clearTimeout(timer);
      window.removeEventListener('keydown', onGlobalKey);
      document.removeEventListener('mousedown', onGlobalClick);
    });

    function option(c, i, body) {
      return h('li', {
        key: c.key || `${c.chatId}/${c.id}`, id: 'search-opt-' + i, role: 'option',
        class: ['search-option', c.kind ? 'search-name' : 'search-result', i === active.value ? 'is-active' : ''],
        'aria-selected': String(i === active.value), 'data-chat-id': c.chatId || null, 'data-id': c.kind ? null : c.id,
        onMousedown: (e) => e.preventDefault(), // keep the focus in the box
        onClick: () => choose(c),
      }, body);
    }

    function panel() {
      const q = text.value.trim();
      const body = [];
      let i = 0;
      if (names.value.length) {
        body.push(h('li', { class: 'search-heading', role: 'presentation' }, t('search.goTo')));
        for (const c of names.value) {
          body.push(option(c, i++, [icon(c.kind === 'chat' ? 'hash' : 'user', { size: 14 }), h('span', { class: 'search-name-text' }, c.name)]));
        }
      }
      for (const g of groups.value) {
        body.push(h('li', { class: 'search-heading search-group', role: 'presentation', 'data-chat-id': g.chatId }, [
          icon(isPrivate(g.chatId) ? 'lock' : 'hash', { size: 14 }), h('span', chatName(g.chatId)),
        ]));
        for (const r of g.results) {
          body.push(option(r, i++, [
            h('div', { class: 'search-meta' }, [
              h('span', { class: 'search-from' }, r.fromUserName),
              h('time', { datetime: r.time, title: fullTime(r.time) }, new Date(r.time).toLocaleDateString() + ' ' + shortTime(r.time)),
            ]),
            h('div', { class: 'search-text' }, marked(String(r.message ?? ''), r.highlights)),
          ]));
        }
      }
      let note = null;
      if (unsupported.value) note = t('search.unsupported');
      else if (error.value) note = t('search.failed', { error: error.value });
      else if (busy.value && !results.value.length) note = t('search.searching');
      else if (q && searched.value === q && !results.value.length) note = t('search.none');
      else if (!q) note = t('search.hint');
      return h('div', { class: 'search-panel box', id: 'search-panel' }, [
        note ? h('p', { class: ['search-note', unsupported.value || error.value ? 'has-text-danger' : ''], role: 'status' }, note) : null,
        body.length ? h('ul', { class: 'search-list', role: 'listbox', id: 'search-results', 'aria-label': t('search.results') }, body) : null,
        cursor.value ? h('button', {
          class: ['button', 'is-small', 'is-fullwidth', 'is-ghost', busy.value ? 'is-loading' : ''], id: 'search-more',
          onMousedown: (e) => e.preventDefault(), onClick: () => run(true),
        }, t('search.more')) : null,
      ]);
    }

    return () => h('div', { class: 'search-box', role: 'search' }, [
      h('div', { class: 'control has-icons-left' }, [
        h('input', {
          ref: input, id: 'search-input', class: 'input is-small', type: 'search', autocomplete: 'off', spellcheck: 'false',
          placeholder: t('search.placeholder'), 'aria-label': t('search.label'), maxlength: MAX_QUERY,
          role: 'combobox', 'aria-expanded': String(open.value), 'aria-controls': 'search-panel', 'aria-autocomplete': 'list',
          'aria-activedescendant': open.value && choices.value.length ? 'search-opt-' + active.value : null,
          value: text.value, onInput, onKeydown, onFocus: () => { open.value = true; },
        }),
        h('span', { class: 'icon is-left' }, icon('search', { size: 16 })),
      ]),
      open.value ? panel() : null,
    ]);
  },
};
