// People: presence shown for a user, the people directory page and the
// "New group message" dialog. Presence comes from the server for the users
// this page watches (store.watchUsers), applied quietly.
import { h, ref, onMounted, onBeforeUnmount, nextTick } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, directory, searchPeople, morePeople, startPrivateChat, createGroupDM, errorText, toast,
} from './store.js';
import { api } from './api.js';
import { icon } from './icons.js';
import { avatar, modalFrame } from './ui.js';
import { t, dateFormat, relativeFormat } from './i18n.js';

const SEARCH_DELAY_MS = 250;
const GROUP_DM_MIN = 2; // others besides the caller
const GROUP_DM_MAX = 8;

// presence is 'online', 'away' or 'offline' for a user id.
export function presence(userId) {
  const p = state.people[userId];
  if (state.me && userId === state.me.userId) return state.idle ? 'away' : 'online';
  if (!p || !p.online) return 'offline';
  return p.idle ? 'away' : 'online';
}

// lastSeenText says when an offline user was last seen: "last seen 5
// minutes ago", "last seen 3 Dec 2026", or "offline" when unknown.
export function lastSeenText(iso) {
  const at = Date.parse(iso || '');
  if (!iso || isNaN(at) || at <= 0) return t('presence.offline');
  const s = Math.max(0, (Date.now() - at) / 1000);
  if (s < 60) return t('presence.justNow');
  const relative = relativeFormat();
  const date = () => dateFormat('lastSeenDay', { day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(at));
  let when;
  if (!relative || s >= 7 * 86400) when = date();
  else if (s < 3600) when = relative.format(-Math.floor(s / 60), 'minute');
  else if (s < 86400) when = relative.format(-Math.floor(s / 3600), 'hour');
  else when = relative.format(-Math.floor(s / 86400), 'day');
  return t('presence.lastSeen', { when });
}

// statusText is what a person's row says about their presence.
export function statusText(userId) {
  const p = presence(userId);
  if (p === 'online' || p === 'away') return t('presence.' + p);
  return lastSeenText((state.people[userId] || {}).lastSeen);
}

// personAvatar is a user's avatar with a presence dot.
export function personAvatar(userId, size = 's') {
  const p = state.people[userId] || { userId };
  const now = presence(userId);
  return h('span', { class: 'avatar-wrap' }, [
    avatar(p, size),
    h('span', { class: ['presence-dot', 'is-' + now], title: t(now === 'online' ? 'presence.Online' : now === 'away' ? 'presence.Away' : 'presence.Offline') }),
  ]);
}

// handleText is "@handle", or '' for a user whose handle is not known.
export function handleText(userId) {
  const p = state.people[userId];
  return p && p.handle ? '@' + p.handle : '';
}

function searchBox(id, label, value, onSearch) {
  let timer = null;
  return h('div', { class: 'control has-icons-left search-box' }, [
    h('label', { class: 'is-sr-only', for: id }, label),
    h('input', {
      id, class: 'input', type: 'search', placeholder: label, value, autocomplete: 'off',
      onInput: (e) => { clearTimeout(timer); const v = e.target.value; timer = setTimeout(() => onSearch(v), SEARCH_DELAY_MS); },
    }),
    h('span', { class: 'icon is-left' }, icon('search', { size: 16 })),
  ]);
}

// ---------- the directory ----------

export const PeoplePage = {
  setup() {
    onMounted(() => {
      if (!directory.loaded || directory.q) searchPeople('');
      nextTick(() => { const el = document.getElementById('people-search'); if (el && window.matchMedia('(min-width: 769px)').matches) el.focus(); });
    });
    function message(u) {
      startPrivateChat(u.userId).catch((err) => toast(t('toast.dmFailed', { error: errorText(err) }), { kind: 'danger' }));
    }
    return () => h('section', { class: 'page people-page', 'aria-labelledby': 'people-heading' }, [
      h('header', { class: 'page-head' }, [
        h('h2', { id: 'people-heading', class: 'title is-5' }, t('people.title')),
        searchBox('people-search', t('people.search'), directory.q, (v) => searchPeople(v)),
      ]),
      directory.error ? h('p', { class: 'notification is-danger is-light', role: 'alert' }, t('people.loadFailed', { error: directory.error })) : null,
      h('ul', { class: 'people-list', id: 'people-list', 'aria-busy': String(directory.loading) }, directory.ids.map((id) => {
        const u = state.people[id] || { userId: id };
        const self = state.me && id === state.me.userId;
        return h('li', { key: id, class: ['person', 'is-' + presence(id)], 'data-user-id': id }, [
          personAvatar(id, 'm'),
          h('div', { class: 'person-text' }, [
            h('div', { class: 'person-line' }, [
              h('span', { class: 'person-name' }, u.userName || t('chat.someone')),
              self ? h('span', { class: 'you' }, t('people.you')) : null,
              u.handle ? h('span', { class: 'handle' }, '@' + u.handle) : null,
            ]),
            h('div', { class: ['person-status', 'is-' + presence(id)] }, statusText(id)),
          ]),
          self ? null : h('button', {
            class: 'button is-small message-person', 'aria-label': t('people.messageName', { name: u.userName || t('people.thisPerson') }), onClick: () => message(u),
          }, [icon('message', { size: 14 }), h('span', t('people.message'))]),
        ]);
      })),
      directory.loaded && !directory.ids.length && !directory.loading
        ? h('p', { class: 'page-empty' }, directory.q ? t('people.noMatch', { q: directory.q }) : t('people.none')) : null,
      directory.next || directory.loading ? h('div', { class: 'page-more' }, h('button', {
        class: ['button', 'is-small', directory.loading ? 'is-loading' : ''], id: 'people-more', disabled: directory.loading,
        onClick: () => morePeople(),
      }, t('people.more'))) : null,
    ]);
  },
};

// ---------- new group message ----------

export const GroupDMModal = {
  setup() {
    const results = ref([]);
    const picked = ref([]); // [{userId, userName, handle}]
    const error = ref('');
    const busy = ref(false);
    let seq = 0;
    async function search(q) {
      const mine = ++seq;
      try {
        const r = await api.people({ q: q.trim().replace(/^@/, ''), limit: 20 });
        if (mine !== seq) return;
        results.value = Object.entries(r.users || {}).map(([id, u]) => ({ ...u, userId: u.userId || id }))
          .filter((u) => u.userId !== state.me.userId);
      } catch (err) {
        if (mine === seq) error.value = t('groupdm.searchFailed', { error: errorText(err) });
      }
    }
    onMounted(() => { search(''); nextTick(() => { const el = document.getElementById('groupdm-search'); if (el) el.focus(); }); });
    let closed = false;
    onBeforeUnmount(() => { closed = true; });
    function toggle(u) {
      const i = picked.value.findIndex((p) => p.userId === u.userId);
      if (i >= 0) picked.value.splice(i, 1);
      else if (picked.value.length < GROUP_DM_MAX) picked.value.push(u);
      error.value = '';
    }
    async function submit(e) {
      e.preventDefault();
      const n = picked.value.length;
      if (n < GROUP_DM_MIN || n > GROUP_DM_MAX) { error.value = t('groupdm.pickError', { min: GROUP_DM_MIN, max: GROUP_DM_MAX }); return; }
      busy.value = true;
      try {
        await createGroupDM(picked.value.map((u) => u.userId));
        if (!closed) state.modal = null;
      } catch (err) {
        error.value = t('groupdm.startFailed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    return () => {
      const n = picked.value.length;
      return modalFrame(t('groupdm.title'), [
        h('form', { id: 'groupdm-form', onSubmit: submit }, [
          h('p', { class: 'help mb-2' }, t('groupdm.pick', { min: GROUP_DM_MIN, max: GROUP_DM_MAX })),
          h('div', { class: 'picked-list', 'aria-live': 'polite' }, picked.value.map((u) => h('span', { class: 'tag is-medium is-primary is-light picked', key: u.userId }, [
            h('span', u.userName),
            h('button', { class: 'delete is-small', type: 'button', 'aria-label': t('groupdm.remove', { name: u.userName }), onClick: () => toggle(u) }),
          ]))),
          searchBox('groupdm-search', t('groupdm.search'), '', search),
          h('ul', { class: 'pick-list', id: 'groupdm-options' }, results.value.map((u) => {
            const on = picked.value.some((p) => p.userId === u.userId);
            return h('li', { key: u.userId }, h('label', { class: ['pick-option', on ? 'is-picked' : ''], 'data-user-id': u.userId }, [
              h('input', { type: 'checkbox', checked: on, disabled: !on && n >= GROUP_DM_MAX, onChange: () => toggle(u) }),
              avatar(u, 's'),
              h('span', { class: 'person-name' }, u.userName),
              u.handle ? h('span', { class: 'handle' }, '@' + u.handle) : null,
            ]));
          })),
          error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
        ]),
      ], [
        h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, t('action.cancel')),
        h('button', {
          class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', form: 'groupdm-form', id: 'groupdm-submit',
          disabled: n < GROUP_DM_MIN,
        }, n ? t('groupdm.startN', { n }) : t('groupdm.start')),
      ]);
    };
  },
};
