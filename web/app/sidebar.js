// The sidebar (the user's group chats, direct messages and group DMs, and
// the way to People and "Browse chats") and the "Browse chats" page.
import { h, ref, computed } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, openChat, joinChat, confirmLeave, showPage, chatName, isJoined, isGroupDM, partners, errorText, toast,
} from './store.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { personAvatar, handleText, presence } from './people.js';

function badges(id) {
  const n = state.unread[id] || 0;
  const m = state.mentions[id] || 0;
  return [
    m ? h('span', { class: 'tag is-warning is-rounded mention-badge', title: t('side.mentions', { n: m }), 'aria-label': t('side.mentions', { n: m }) }, '@' + m) : null,
    n ? h('span', { class: 'tag is-danger is-rounded unread-badge' }, String(n)) : null,
  ];
}

// mayDelete tells whether the caller may delete a group chat.
function mayDelete(c) {
  return c.owner === state.me.userId || c.role === 'owner' || c.role === 'moderator' || state.me.admin;
}

function chatMenu(c) {
  const open = state.menu === c.id;
  return h('div', { class: ['dropdown', 'is-right', 'menu-anchor', open ? 'is-active' : ''] }, [
    h('button', {
      class: 'button is-small is-ghost side-action chat-menu-button', 'aria-label': t('side.moreFor', { name: c.name }), title: t('action.more'),
      'aria-haspopup': 'menu', 'aria-expanded': String(open),
      onClick: () => { state.menu = open ? null : c.id; },
    }, icon('more', { size: 16 })),
    open ? h('div', { class: 'dropdown-menu', role: 'menu' }, h('div', { class: 'dropdown-content' }, [
      h('button', { class: 'dropdown-item leave-chat', role: 'menuitem', onClick: () => confirmLeave(c.id) }, [icon('logout', { size: 14 }), h('span', t('side.leave'))]),
      mayDelete(c) ? h('button', {
        class: 'dropdown-item has-text-danger delete-chat', role: 'menuitem',
        onClick: () => { state.menu = null; state.modal = { kind: 'delete', chatId: c.id }; },
      }, [icon('trash', { size: 14 }), h('span', t('side.delete'))]) : null,
    ])) : null,
  ]);
}

function groupItem(c) {
  const n = state.unread[c.id] || 0;
  return h('li', { key: c.id, class: ['side-item', state.active === c.id && !state.page ? 'is-active' : '', n ? 'has-unread' : ''], 'data-chat-id': c.id }, [
    h('button', {
      class: 'side-main chat-entry', 'aria-label': t('side.openChat', { name: c.name }) + (n ? t('side.unreadSuffix', { n }) : ''),
      onClick: () => { state.page = null; openChat(c.id, { focus: true }); },
    }, [
      h('span', { class: 'chat-glyph' }, icon(c.visibility === 'private' ? 'lock' : 'hash', { size: 16 })),
      h('span', { class: 'side-name' }, c.name),
      ...badges(c.id),
    ]),
    chatMenu(c),
  ]);
}

function dmItem(c) {
  const n = state.unread[c.id] || 0;
  const others = partners(c);
  const one = !isGroupDM(c.id) && others.length === 1 ? others[0].userId : '';
  const name = chatName(c.id);
  return h('li', { key: c.id, class: ['side-item', 'dm-entry', state.active === c.id && !state.page ? 'is-active' : '', n ? 'has-unread' : ''], 'data-chat-id': c.id }, [
    h('button', {
      class: 'side-main', 'aria-label': t('side.openDM', { name }) + (one ? ` (${t('presence.' + presence(one))})` : '') + (n ? t('side.unreadSuffix', { n }) : ''),
      onClick: () => { state.page = null; openChat(c.id, { focus: true }); },
    }, [
      one ? personAvatar(one, 's') : h('span', { class: 'group-glyph' }, [icon('users', { size: 16 }), h('span', { class: 'group-count' }, String(others.length + 1))]),
      h('span', { class: 'side-name' }, [
        h('span', { class: 'dm-name' }, name),
        one && handleText(one) ? h('span', { class: 'handle' }, handleText(one)) : null,
      ]),
      ...badges(c.id),
    ]),
  ]);
}

export const Sidebar = {
  setup() {
    const joined = computed(() => Object.values(state.chats).filter(isJoined).sort((a, b) => a.name.localeCompare(b.name)));
    // Every conversation, the other person online or not, most recent first.
    const dms = computed(() => Object.values(state.privateChats).sort((a, b) =>
      String(b.lastMessageAt || '').localeCompare(String(a.lastMessageAt || '')) || chatName(a.id).localeCompare(chatName(b.id))));
    const navButton = (page, id, glyph, label) => h('button', {
      class: ['side-nav-item', state.page === page ? 'is-active' : ''], id, 'aria-current': state.page === page ? 'page' : null,
      onClick: () => showPage(page),
    }, [icon(glyph, { size: 16 }), h('span', label)]);
    return () => h('aside', { id: 'sidebar', class: ['sidebar', state.sidebarOpen ? 'is-open' : ''], 'aria-label': t('side.label') }, [
      h('nav', { class: 'side-nav', 'aria-label': t('side.directories') }, [
        navButton('browse', 'browse-chats', 'compass', t('side.browse')),
        navButton('people', 'open-people', 'users', t('side.people')),
      ]),
      h('section', { class: 'side-section', 'aria-labelledby': 'chats-heading' }, [
        h('div', { class: 'side-heading' }, [
          h('h2', { id: 'chats-heading' }, t('side.groups')),
          h('button', {
            class: 'button is-small is-primary is-soft', id: 'new-chat', 'aria-label': t('side.newLabel'), title: t('side.create'),
            onClick: () => { state.modal = { kind: 'create' }; },
          }, [icon('plus', { size: 16 }), h('span', t('side.new'))]),
        ]),
        h('ul', { class: 'side-list', id: 'chat-list' }, joined.value.map(groupItem)),
        joined.value.length ? null : h('p', { class: 'side-empty' }, [
          t('side.noGroups'),
          h('button', { class: 'button is-text is-small p-0', onClick: () => showPage('browse') }, t('side.browse')),
        ]),
      ]),
      h('section', { class: 'side-section', 'aria-labelledby': 'dms-heading' }, [
        h('div', { class: 'side-heading' }, [
          h('h2', { id: 'dms-heading' }, t('side.dms')),
          h('button', {
            class: 'button is-small is-ghost', id: 'new-group-dm', 'aria-label': t('side.newGroupDM'), title: t('side.newGroupDM'),
            onClick: () => { state.modal = { kind: 'groupdm' }; },
          }, icon('plus', { size: 16 })),
        ]),
        h('ul', { class: 'side-list', id: 'dm-list' }, dms.value.map(dmItem)),
        dms.value.length ? null : h('p', { class: 'side-empty' }, [
          t('side.noDMs'),
          h('button', { class: 'button is-text is-small p-0', onClick: () => showPage('people') }, t('side.findPeople')),
        ]),
      ]),
    ]);
  },
};

// ---------- browse chats ----------

export const BrowsePage = {
  setup() {
    const filter = ref('');
    const busy = ref('');
    const open = computed(() => {
      const f = filter.value.trim().toLowerCase();
      return Object.values(state.chats)
        .filter((c) => !isJoined(c) && c.visibility !== 'private')
        .filter((c) => !f || c.name.toLowerCase().includes(f) || String(c.topic || '').toLowerCase().includes(f))
        .sort((a, b) => a.name.localeCompare(b.name));
    });
    async function join(c) {
      busy.value = c.id;
      try {
        await joinChat(c.id);
      } catch (err) {
        toast(t('toast.joinFailed', { name: c.name, error: errorText(err) }), { kind: 'danger' });
      } finally {
        busy.value = '';
      }
    }
    return () => h('section', { class: 'page browse-page', 'aria-labelledby': 'browse-heading' }, [
      h('header', { class: 'page-head' }, [
        h('h2', { id: 'browse-heading', class: 'title is-5' }, t('browse.title')),
        h('div', { class: 'control has-icons-left search-box' }, [
          h('label', { class: 'is-sr-only', for: 'browse-filter' }, t('browse.filter')),
          h('input', { id: 'browse-filter', class: 'input', type: 'search', placeholder: t('browse.filterPlaceholder'), value: filter.value, onInput: (e) => { filter.value = e.target.value; } }),
          h('span', { class: 'icon is-left' }, icon('search', { size: 16 })),
        ]),
      ]),
      h('ul', { class: 'browse-list', id: 'browse-list' }, open.value.map((c) => {
        const members = Object.keys(c.members || {}).length;
        return h('li', { key: c.id, class: 'browse-item', 'data-chat-id': c.id }, [
          h('span', { class: 'chat-glyph' }, icon('hash', { size: 18 })),
          h('div', { class: 'browse-text' }, [
            h('div', { class: 'browse-name' }, c.name),
            c.topic ? h('div', { class: 'browse-topic' }, c.topic) : null,
            members ? h('div', { class: 'browse-meta' }, t('browse.members', { n: members })) : null,
          ]),
          h('button', {
            class: ['button', 'is-small', 'is-primary', 'join-chat', busy.value === c.id ? 'is-loading' : ''], 'aria-label': t('browse.joinName', { name: c.name }),
            onClick: () => join(c),
          }, t('browse.join')),
        ]);
      })),
      open.value.length ? null : h('p', { class: 'page-empty' }, filter.value ? t('browse.noMatch') : t('browse.allJoined')),
    ]);
  },
};
