// The sidebar (the user's group chats, direct messages and group DMs, and
// the way to People and "Browse chats") and the "Browse chats" page.
import { h, ref, computed } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, openChat, joinChat, confirmLeave, showPage, chatName, isJoined, isGroupDM, partners, errorText, toast,
} from './store.js';
import { icon } from './icons.js';
import { personAvatar, handleText, presence } from './people.js';

function badges(id) {
  const n = state.unread[id] || 0;
  const m = state.mentions[id] || 0;
  return [
    m ? h('span', { class: 'tag is-warning is-rounded mention-badge', title: `${m} mention${m === 1 ? '' : 's'}`, 'aria-label': `${m} mentions` }, '@' + m) : null,
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
      class: 'button is-small is-ghost side-action chat-menu-button', 'aria-label': `More for ${c.name}`, title: 'More',
      'aria-haspopup': 'menu', 'aria-expanded': String(open),
      onClick: () => { state.menu = open ? null : c.id; },
    }, icon('more', { size: 16 })),
    open ? h('div', { class: 'dropdown-menu', role: 'menu' }, h('div', { class: 'dropdown-content' }, [
      h('button', { class: 'dropdown-item leave-chat', role: 'menuitem', onClick: () => confirmLeave(c.id) }, [icon('logout', { size: 14 }), h('span', 'Leave chat')]),
      mayDelete(c) ? h('button', {
        class: 'dropdown-item has-text-danger delete-chat', role: 'menuitem',
        onClick: () => { state.menu = null; state.modal = { kind: 'delete', chatId: c.id }; },
      }, [icon('trash', { size: 14 }), h('span', 'Delete chat')]) : null,
    ])) : null,
  ]);
}

function groupItem(c) {
  const n = state.unread[c.id] || 0;
  return h('li', { key: c.id, class: ['side-item', state.active === c.id && !state.page ? 'is-active' : '', n ? 'has-unread' : ''], 'data-chat-id': c.id }, [
    h('button', {
      class: 'side-main chat-entry', 'aria-label': `Open chat ${c.name}` + (n ? `, ${n} unread` : ''),
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
      class: 'side-main', 'aria-label': `Open conversation with ${name}` + (one ? ` (${presence(one)})` : '') + (n ? `, ${n} unread` : ''),
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
    return () => h('aside', { id: 'sidebar', class: ['sidebar', state.sidebarOpen ? 'is-open' : ''], 'aria-label': 'Chats and people' }, [
      h('nav', { class: 'side-nav', 'aria-label': 'Directories' }, [
        navButton('browse', 'browse-chats', 'compass', 'Browse chats'),
        navButton('people', 'open-people', 'users', 'People'),
      ]),
      h('section', { class: 'side-section', 'aria-labelledby': 'chats-heading' }, [
        h('div', { class: 'side-heading' }, [
          h('h2', { id: 'chats-heading' }, 'Group chats'),
          h('button', {
            class: 'button is-small is-primary is-soft', id: 'new-chat', 'aria-label': 'New group chat', title: 'Create a group chat',
            onClick: () => { state.modal = { kind: 'create' }; },
          }, [icon('plus', { size: 16 }), h('span', 'New')]),
        ]),
        h('ul', { class: 'side-list', id: 'chat-list' }, joined.value.map(groupItem)),
        joined.value.length ? null : h('p', { class: 'side-empty' }, [
          'You are in no group chat yet. ',
          h('button', { class: 'button is-text is-small p-0', onClick: () => showPage('browse') }, 'Browse chats'),
        ]),
      ]),
      h('section', { class: 'side-section', 'aria-labelledby': 'dms-heading' }, [
        h('div', { class: 'side-heading' }, [
          h('h2', { id: 'dms-heading' }, 'Direct messages'),
          h('button', {
            class: 'button is-small is-ghost', id: 'new-group-dm', 'aria-label': 'New group message', title: 'New group message',
            onClick: () => { state.modal = { kind: 'groupdm' }; },
          }, icon('plus', { size: 16 })),
        ]),
        h('ul', { class: 'side-list', id: 'dm-list' }, dms.value.map(dmItem)),
        dms.value.length ? null : h('p', { class: 'side-empty' }, [
          'No conversations yet. ',
          h('button', { class: 'button is-text is-small p-0', onClick: () => showPage('people') }, 'Find people'),
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
        toast(`Could not join ${c.name}: ${errorText(err)}`, { kind: 'danger' });
      } finally {
        busy.value = '';
      }
    }
    return () => h('section', { class: 'page browse-page', 'aria-labelledby': 'browse-heading' }, [
      h('header', { class: 'page-head' }, [
        h('h2', { id: 'browse-heading', class: 'title is-5' }, 'Browse chats'),
        h('div', { class: 'control has-icons-left search-box' }, [
          h('label', { class: 'is-sr-only', for: 'browse-filter' }, 'Filter chats'),
          h('input', { id: 'browse-filter', class: 'input', type: 'search', placeholder: 'Filter by name or topic', value: filter.value, onInput: (e) => { filter.value = e.target.value; } }),
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
            members ? h('div', { class: 'browse-meta' }, `${members} member${members === 1 ? '' : 's'}`) : null,
          ]),
          h('button', {
            class: ['button', 'is-small', 'is-primary', 'join-chat', busy.value === c.id ? 'is-loading' : ''], 'aria-label': `Join ${c.name}`,
            onClick: () => join(c),
          }, 'Join'),
        ]);
      })),
      open.value.length ? null : h('p', { class: 'page-empty' }, filter.value ? 'No chat matches.' : 'You are in every public chat. Create a new one with “New”.'),
    ]);
  },
};
