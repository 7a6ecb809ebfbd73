// The components, written as render functions with h(): the page runs under
// a CSP without 'unsafe-eval', so Vue may not compile templates at run time.
import { h, ref, computed, watch, nextTick, onMounted, onBeforeUnmount, Fragment } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, outbox, boot, signInAsGuest, signOut, openChat, activate, closeTab, loadOlder, sendMessage, sendTyping,
  createChat, deleteChat, startPrivateChat, askNotifications, dismissToast, chatName, isPrivate, errorText,
  byteLength, markRead, toast,
} from './store.js';
import { loginUrl } from './api.js';
import { checkName } from './names.js';
import { icon, providerIcon, providerLabel } from './icons.js';
import { linkify, mentions, shortTime, fullTime, dayLabel, initials, hue } from './text.js';

const GROUP_GAP_MS = 5 * 60 * 1000;

function avatar(user, size = 'm') {
  const id = user.userId || user.fromUserId || '';
  const name = user.userName || user.fromUserName || '?';
  return h('span', {
    class: ['avatar', 'avatar-' + size], 'aria-hidden': 'true',
    style: { backgroundColor: `hsl(${hue(id)} 55% 45%)` },
  }, initials(name));
}

function spinner(label = 'Loading') {
  return h('span', { class: 'spinner', role: 'status', 'aria-label': label });
}

// ---------- sign-in ----------

const SignIn = {
  setup() {
    const name = ref('');
    const busy = ref(false);
    const error = ref('');
    async function submit(e) {
      e.preventDefault();
      const { name: n, error: invalid } = checkName(name.value, state.maxNameLength);
      if (invalid) { error.value = invalid; return; }
      busy.value = true;
      error.value = '';
      try {
        await signInAsGuest(n);
      } catch (err) {
        error.value = err.message || 'Sign-in failed';
      } finally {
        busy.value = false;
      }
    }
    return () => h('main', { class: 'center-screen' }, [
      h('div', { class: 'box signin-box' }, [
        h('div', { class: 'brand-large' }, [icon('message', { size: 36 }), h('h1', { class: 'title is-3' }, 'Chatr')]),
        h('p', { class: 'subtitle is-6 has-text-grey' }, 'Sign in to start chatting'),
        state.providers.length ? h('div', { class: 'provider-list' }, state.providers.map((p) =>
          h('a', { class: ['button', 'is-fullwidth', 'provider-button', 'provider-' + p.name], href: loginUrl(p) }, [
            providerIcon(p.name, 18), h('span', `Sign in with ${p.label || providerLabel(p.name)}`),
          ]))) : null,
        state.providers.length && state.guest ? h('div', { class: 'divider-text' }, h('span', 'or')) : null,
        state.guest ? h('form', { class: 'guest-form', onSubmit: submit, 'aria-label': 'Guest sign-in' }, [
          h('div', { class: 'field' }, [
            h('label', { class: 'label', for: 'guest-name' }, 'Your name'),
            h('div', { class: 'control' }, h('input', {
              id: 'guest-name', class: ['input', error.value ? 'is-danger' : ''], type: 'text', autocomplete: 'nickname',
              placeholder: 'e.g. Alice', value: name.value, autofocus: true,
              'aria-invalid': error.value ? 'true' : 'false', 'aria-describedby': error.value ? 'guest-name-error' : null,
              onInput: (e) => { name.value = e.target.value; error.value = ''; },
            })),
            error.value ? h('p', { class: 'help is-danger', role: 'alert', id: 'guest-name-error' }, error.value) : null,
          ]),
          h('button', { class: ['button', 'is-primary', 'is-fullwidth', busy.value ? 'is-loading' : ''], type: 'submit', id: 'guest-submit' }, 'Continue as guest'),
        ]) : null,
        !state.guest && !state.providers.length ? h('p', { class: 'has-text-danger' }, 'No sign-in method is configured on this server.') : null,
      ]),
    ]);
  },
};

// ---------- loading ----------

const Loading = {
  setup() {
    const mark = (s) => {
      if (s.status === 'done') return h('span', { class: 'step-mark has-text-success' }, icon('check', { label: 'done' }));
      if (s.status === 'active') return h('span', { class: 'step-mark' }, spinner('in progress'));
      if (s.status === 'error') return h('span', { class: 'step-mark has-text-danger' }, icon('x', { label: 'failed' }));
      return h('span', { class: 'step-mark has-text-grey-light' }, icon('circle', { size: 10, label: 'waiting' }));
    };
    return () => h('main', { class: 'center-screen' }, [
      h('div', { class: 'box loading-box', 'aria-busy': state.error ? 'false' : 'true' }, [
        h('div', { class: 'brand-large' }, [icon('message', { size: 32 }), h('h1', { class: 'title is-4' }, 'Chatr')]),
        h('ol', { class: 'steps', 'aria-label': 'Connection steps' }, state.steps.map((s) =>
          h('li', { class: ['step', 'is-' + s.status], key: s.key }, [mark(s), h('span', s.label)]))),
        state.error ? h('div', { class: 'notification is-danger is-light', role: 'alert' }, [
          h('p', state.error),
          h('div', { class: 'buttons mt-3' }, [
            h('button', { class: 'button is-small', onClick: () => { state.error = ''; boot(); } }, 'Try again'),
            h('button', { class: 'button is-small is-text', onClick: signOut }, 'Sign out'),
          ]),
        ]) : null,
      ]),
    ]);
  },
};

// ---------- navbar ----------

function Navbar() {
  const me = state.me;
  return h('header', { class: 'topbar' }, [
    h('button', {
      class: 'button is-ghost topbar-burger', 'aria-label': state.sidebarOpen ? 'Hide chats and people' : 'Show chats and people',
      'aria-expanded': String(state.sidebarOpen), 'aria-controls': 'sidebar',
      onClick: () => { state.sidebarOpen = !state.sidebarOpen; },
    }, icon('menu', { size: 22 })),
    h('div', { class: 'topbar-brand' }, [icon('message', { size: 22 }), h('span', 'Chatr')]),
    h('div', { class: 'topbar-spacer' }),
    state.notify === 'default' ? h('button', {
      class: 'button is-small is-ghost', id: 'enable-notifications', title: 'Enable notifications', 'aria-label': 'Enable notifications',
      onClick: askNotifications,
    }, [icon('bell'), h('span', { class: 'is-hidden-mobile ml-1' }, 'Notify me')]) : null,
    h('div', { class: 'me-chip', title: `Signed in with ${providerLabel(me.provider)}` }, [
      avatar(me, 's'), h('span', { class: 'me-name' }, me.userName),
      state.idle ? h('span', { class: 'tag is-warning is-light is-rounded ml-1' }, 'away') : null,
    ]),
    h('button', { class: 'button is-small is-ghost', id: 'sign-out', 'aria-label': 'Sign out', title: 'Sign out', onClick: signOut },
      [icon('logout'), h('span', { class: 'is-hidden-mobile ml-1' }, 'Sign out')]),
  ]);
}

function ConnectionBanner() {
  if (state.conn === 'connected') return null;
  return h('div', { class: 'conn-banner', role: 'status', id: 'conn-banner' }, [
    h('span', { class: 'spin-icon' }, icon('refresh', { size: 16 })),
    h('span', state.conn === 'stopped' ? 'Disconnected' : 'Reconnecting…'),
    h('span', { class: 'conn-sub is-hidden-mobile' }, 'Messages will catch up when the connection is back.'),
  ]);
}

// ---------- sidebar ----------

const Sidebar = {
  setup() {
    const groupChats = computed(() => Object.values(state.chats).sort((a, b) => a.name.localeCompare(b.name)));
    const users = computed(() => Object.values(state.users).sort((a, b) => {
      if (a.userId === state.me.userId) return -1;
      if (b.userId === state.me.userId) return 1;
      return (a.userName || '').localeCompare(b.userName || '');
    }));
    return () => h('aside', { id: 'sidebar', class: ['sidebar', state.sidebarOpen ? 'is-open' : ''], 'aria-label': 'Chats and people' }, [
      h('section', { class: 'side-section', 'aria-labelledby': 'chats-heading' }, [
        h('div', { class: 'side-heading' }, [
          h('h2', { id: 'chats-heading' }, 'Group chats'),
          h('button', {
            class: 'button is-small is-primary is-soft', id: 'new-chat', 'aria-label': 'Create a group chat', title: 'Create a group chat',
            onClick: () => { state.modal = { kind: 'create' }; },
          }, [icon('plus', { size: 16 }), h('span', 'New')]),
        ]),
        groupChats.value.length ? h('ul', { class: 'side-list', id: 'chat-list' }, groupChats.value.map((c) => {
          const n = state.unread[c.id] || 0;
          const members = Object.keys(c.members || {}).length;
          return h('li', { key: c.id, class: ['side-item', state.active === c.id ? 'is-active' : ''], 'data-chat-id': c.id }, [
            h('button', {
              class: 'side-main chat-entry', 'aria-label': `Open chat ${c.name}` + (n ? `, ${n} unread` : ''),
              onClick: () => openChat(c.id, { focus: true }),
            }, [
              h('span', { class: 'chat-glyph' }, icon('hash', { size: 16 })),
              h('span', { class: 'side-name' }, c.name),
              members ? h('span', { class: 'side-meta', title: `${members} member${members === 1 ? '' : 's'}` }, [icon('user', { size: 12 }), h('span', String(members))]) : null,
              n ? h('span', { class: 'tag is-danger is-rounded unread-badge' }, String(n)) : null,
            ]),
            c.owner === state.me.userId ? h('button', {
              class: 'button is-small is-ghost side-action delete-chat', 'aria-label': `Delete chat ${c.name}`, title: 'Delete chat',
              onClick: () => { state.modal = { kind: 'delete', chatId: c.id }; },
            }, icon('trash', { size: 16 })) : null,
          ]);
        })) : h('p', { class: 'side-empty' }, 'No group chats yet. Create the first one!'),
      ]),
      h('section', { class: 'side-section', 'aria-labelledby': 'users-heading' }, [
        h('div', { class: 'side-heading' }, [h('h2', { id: 'users-heading' }, `Online · ${users.value.length}`)]),
        h('ul', { class: 'side-list', id: 'user-list' }, users.value.map((u) => {
          const self = u.userId === state.me.userId;
          return h('li', { key: u.userId, class: ['side-item', 'user-entry', self ? 'is-self' : '', u.idle ? 'is-idle' : ''], 'data-user-id': u.userId }, [
            h('button', {
              class: 'side-main', disabled: self,
              'aria-label': self ? `${u.userName} (you)` : `Start a private chat with ${u.userName}` + (u.idle ? ' (away)' : ''),
              title: self ? 'This is you' : `Private chat with ${u.userName}`,
              onClick: () => startPrivateChat(u.userId).catch((err) => toast('Could not start a private chat: ' + errorText(err), { kind: 'danger' })),
            }, [
              h('span', { class: 'avatar-wrap' }, [
                avatar(u, 's'),
                h('span', { class: ['presence-dot', u.idle ? 'is-idle' : 'is-online'], title: u.idle ? 'Away' : 'Online' }),
              ]),
              h('span', { class: 'side-name user-name' }, [u.userName, self ? h('span', { class: 'you' }, ' (you)') : null]),
              u.idle ? h('span', { class: 'idle-marker', title: 'Away' }, [icon('moon', { size: 14, label: 'away' })]) : null,
              h('span', { class: 'side-provider', title: providerLabel(u.userProvider) }, providerIcon(u.userProvider, 14)),
            ]),
          ]);
        })),
      ]),
    ]);
  },
};

// ---------- tabs ----------

function Tabs() {
  if (!state.tabs.length) return null;
  return h('nav', { class: 'chat-tabs', 'aria-label': 'Open chats' }, h('ul', { role: 'tablist' }, state.tabs.map((id) => {
    const n = state.unread[id] || 0;
    const on = state.active === id;
    return h('li', { key: id, class: ['chat-tab', on ? 'is-active' : ''], 'data-chat-id': id, role: 'presentation' }, [
      h('button', {
        class: 'tab-main', role: 'tab', 'aria-selected': String(on), 'aria-controls': 'chat-panel',
        onClick: () => activate(id),
      }, [
        icon(isPrivate(id) ? 'lock' : 'hash', { size: 14 }),
        h('span', { class: 'tab-name' }, chatName(id)),
        n ? h('span', { class: 'tag is-danger is-rounded unread-badge', 'aria-label': `${n} unread` }, String(n)) : null,
      ]),
      h('button', { class: 'tab-close', 'aria-label': `Close ${chatName(id)}`, title: 'Close', onClick: () => closeTab(id) }, icon('x', { size: 14 })),
    ]);
  })));
}

// ---------- chat view ----------

const ChatView = {
  props: { chatId: String },
  setup(props) {
    const scroller = ref(null);
    const input = ref(null);
    const sendError = ref('');
    const view = computed(() => state.views[props.chatId]);

    function atBottom(el) {
      return el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    }
    function toBottom() {
      const el = scroller.value;
      if (el) el.scrollTop = el.scrollHeight;
    }
    async function older() {
      const el = scroller.value;
      const v = view.value;
      if (!el || !v || !v.hasMore || v.loadingOlder) return;
      // Keep the message the reader was looking at in place: remember where
      // the first message sits in the viewport and put it back there.
      const anchor = el.querySelector('.msg');
      const anchorId = anchor && anchor.dataset.id;
      const offset = anchor ? anchor.getBoundingClientRect().top - el.getBoundingClientRect().top : 0;
      const prevHeight = el.scrollHeight;
      const prevTop = el.scrollTop;
      const loaded = await loadOlder(props.chatId);
      if (!loaded) return;
      await nextTick();
      const now = scroller.value;
      if (!now) return;
      const same = anchorId && now.querySelector(`.msg[data-id="${anchorId}"]`);
      if (same) now.scrollTop += same.getBoundingClientRect().top - now.getBoundingClientRect().top - offset;
      else now.scrollTop = prevTop + (now.scrollHeight - prevHeight);
      fillScreen();
    }
    // fillScreen loads older pages until the list can scroll.
    function fillScreen() {
      const el = scroller.value;
      const v = view.value;
      if (el && v && v.hasMore && !v.loadingOlder && el.scrollHeight <= el.clientHeight + 20) older();
    }
    function onScroll() {
      const el = scroller.value;
      const v = view.value;
      if (!el || !v) return;
      v.stick = atBottom(el);
      if (v.stick) v.newBelow = 0;
      if (el.scrollTop < 120) older();
    }
    // Anything that changes the list's height: new messages, and the header
    // or spinner that appear when a load ends (the start-of-chat header is
    // rendered after the messages, and must not push the newest one out).
    watch(() => { const v = view.value; return v && [v.items.length, v.loaded, v.loading, v.hasMore, v.loadingOlder, outbox.forChat(props.chatId).length]; }, async () => {
      const v = view.value;
      if (!v) return;
      await nextTick();
      if (v.stick) toBottom();
      fillScreen();
    });
    // Keep the newest message in view when the list changes size (a phone
    // rotating, the keyboard opening, the composer growing).
    let resize = null;
    onMounted(() => {
      if (typeof ResizeObserver !== 'undefined' && scroller.value) {
        resize = new ResizeObserver(() => { const v = view.value; if (v && v.stick) toBottom(); });
        resize.observe(scroller.value);
      }
    });
    onBeforeUnmount(() => { if (resize) resize.disconnect(); });
    onMounted(() => {
      const v = view.value;
      nextTick(() => {
        if (v && !v.stick && v.scrollTop !== null && scroller.value) scroller.value.scrollTop = v.scrollTop;
        else toBottom();
        fillScreen();
        if (input.value && window.matchMedia('(min-width: 769px)').matches) input.value.focus();
      });
    });
    onBeforeUnmount(() => {
      const v = view.value;
      if (v && scroller.value) v.scrollTop = scroller.value.scrollTop;
    });

    function autosize() {
      const el = input.value;
      if (!el) return;
      el.style.height = 'auto';
      el.style.height = Math.min(el.scrollHeight, 160) + 'px';
    }
    async function submit() {
      const v = view.value;
      if (!v) return;
      const text = v.draft;
      if (!text.trim()) return;
      const err = sendMessage(props.chatId, text);
      if (err) { sendError.value = 'Not sent: ' + err; return; }
      v.draft = '';
      nextTick(autosize);
      sendError.value = state.conn === 'connected' ? '' : 'Not connected: your message is kept until the connection is back';
    }
    function onKeydown(e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    }

    function renderItems(v) {
      const out = [];
      let prev = null;
      let prevDay = '';
      for (const it of v.items) {
        const day = dayLabel(it.time);
        if (day && day !== prevDay) {
          out.push(h('li', { key: 'd' + (it.key || it.id), class: 'day-sep', role: 'separator' }, h('span', day)));
          prevDay = day;
          prev = null;
        }
        if (it.kind === 'note') {
          out.push(h('li', { key: it.key, class: 'note' }, h('span', it.text)));
          prev = null;
          continue;
        }
        const mine = it.fromUserId === state.me.userId;
        const cont = prev && prev.fromUserId === it.fromUserId && (new Date(it.time) - new Date(prev.time)) < GROUP_GAP_MS;
        const mention = !mine && mentions(it.message, state.me.userName);
        out.push(h('li', {
          key: it.id, class: ['msg', mine ? 'is-mine' : 'is-theirs', cont ? 'is-cont' : '', mention ? 'is-mention' : ''],
          'data-id': it.id, 'data-from': it.fromUserId,
        }, [
          !mine ? (cont ? h('span', { class: 'avatar-space' }) : avatar(it, 'm')) : null,
          h('div', { class: 'bubble' }, [
            !cont ? h('div', { class: 'msg-head' }, [
              h('span', { class: 'msg-sender' }, mine ? 'You' : it.fromUserName),
              h('time', { class: 'msg-time', datetime: it.time, title: fullTime(it.time) }, shortTime(it.time)),
            ]) : null,
            h('div', { class: 'msg-text' }, linkify(it.message)),
          ]),
        ]));
        prev = it;
      }
      return out;
    }

    // renderPending shows the outbox's messages for this chat after the
    // stored ones, marked as not yet sent.
    function renderPending() {
      return outbox.forChat(props.chatId).map((e) => h('li', {
        key: 'p' + e.clientId, class: ['msg', 'is-mine', 'is-pending', e.status === 'failed' ? 'is-failed' : ''], 'data-client-id': e.clientId,
      }, h('div', { class: 'bubble' }, [
        h('div', { class: 'msg-head' }, [
          h('span', { class: 'msg-sender' }, 'You'),
          h('span', { class: 'msg-status' }, e.status === 'failed' ? 'Not sent: ' + e.error
            : state.conn === 'connected' ? 'Sending…' : 'Waiting for the connection'),
        ]),
        h('div', { class: 'msg-text' }, linkify(e.text)),
        e.status === 'failed' ? h('div', { class: 'buttons are-small msg-actions' }, [
          h('button', { class: 'button is-small', type: 'button', onClick: () => outbox.retry(e.clientId) }, 'Retry'),
          h('button', { class: 'button is-small is-text', type: 'button', onClick: () => outbox.confirmed(e.clientId) }, 'Discard'),
        ]) : null,
      ])));
    }

    return () => {
      const v = view.value;
      if (!v) return null;
      const typers = Object.values(v.typing).map((t) => t.name);
      const bytes = byteLength(v.draft);
      const tooLong = bytes > state.config.maxMessageBytes;
      return h('section', { class: 'chat-view', id: 'chat-panel', role: 'tabpanel', 'aria-label': chatName(props.chatId), 'data-chat-id': props.chatId }, [
        h('div', { class: 'messages-wrap' }, [
          h('ol', { class: 'messages', ref: scroller, onScroll, role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: 0 }, [
            // Floats over the messages: taking room would push them down while loading.
            v.loadingOlder ? h('li', { class: 'older-loading is-floating', key: 'older' }, h('span', { class: 'older-loading-label' }, [spinner('Loading older messages'), h('span', 'Loading older messages…')])) : null,
            !v.hasMore && v.loaded ? h('li', { class: 'chat-start', key: 'start' }, [
              icon(isPrivate(props.chatId) ? 'lock' : 'hash', { size: 28 }),
              h('p', { class: 'has-text-weight-semibold' }, chatName(props.chatId)),
              h('p', { class: 'is-size-7' }, v.items.some((x) => x.kind === 'msg') ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!'),
            ]) : null,
            v.loading && !v.items.length ? h('li', { class: 'older-loading', key: 'loading' }, [spinner(), h('span', 'Loading messages…')]) : null,
            v.error ? h('li', { class: 'note is-error', key: 'error' }, h('span', v.error)) : null,
            ...renderItems(v),
            ...renderPending(),
          ]),
          v.newBelow > 0 && !v.stick ? h('button', {
            class: 'button is-small is-link jump-latest', onClick: () => { v.stick = true; v.newBelow = 0; toBottom(); markRead(props.chatId); },
          }, [icon('arrowDown', { size: 14 }), h('span', `${v.newBelow} new`)]) : null,
        ]),
        h('div', { class: 'typing', 'aria-live': 'polite' }, typers.length ? [
          h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, [h('i'), h('i'), h('i')]),
          h('span', typers.length === 1 ? `${typers[0]} is typing…` : typers.length === 2 ? `${typers[0]} and ${typers[1]} are typing…` : 'Several people are typing…'),
        ] : null),
        h('form', { class: 'composer', onSubmit: (e) => { e.preventDefault(); submit(); } }, [
          h('label', { class: 'is-sr-only', for: 'composer-input' }, `Message ${chatName(props.chatId)}`),
          h('textarea', {
            id: 'composer-input', ref: input, class: ['textarea', tooLong ? 'is-danger' : ''], rows: 1,
            placeholder: `Message ${chatName(props.chatId)}`, value: v.draft, 'aria-invalid': String(tooLong),
            'aria-describedby': 'composer-help',
            onInput: (e) => { v.draft = e.target.value; autosize(); sendError.value = ''; if (v.draft) sendTyping(props.chatId); },
            onKeydown,
          }),
          h('button', {
            class: 'button is-primary send-button', type: 'submit', 'aria-label': 'Send message', title: 'Send (Enter)',
            disabled: !v.draft.trim() || tooLong,
          }, icon('send')),
        ]),
        h('p', { id: 'composer-help', class: ['composer-help', sendError.value || tooLong ? 'has-text-danger' : 'is-hidden-mobile'], role: sendError.value ? 'alert' : null },
          sendError.value || (tooLong ? `Too long: ${bytes} of ${state.config.maxMessageBytes} bytes` : 'Enter to send · Shift+Enter for a new line')),
      ]);
    };
  },
};

function EmptyMain() {
  return h('div', { class: 'empty-main' }, [
    icon('message', { size: 48 }),
    h('h2', { class: 'title is-5' }, `Welcome, ${state.me.userName}!`),
    h('p', 'Pick a group chat or a person on the left, or create a new chat.'),
    h('button', { class: 'button is-primary mt-4', onClick: () => { state.modal = { kind: 'create' }; } }, [icon('plus'), h('span', 'Create a group chat')]),
    h('button', { class: 'button is-text mt-2 is-hidden-tablet', onClick: () => { state.sidebarOpen = true; } }, 'Browse chats and people'),
  ]);
}

// ---------- modals ----------

const CreateChatModal = {
  setup() {
    const name = ref('');
    const error = ref('');
    const busy = ref(false);
    const field = ref(null);
    onMounted(() => nextTick(() => field.value && field.value.focus()));
    async function submit(e) {
      e.preventDefault();
      const n = name.value.trim();
      if (!n) { error.value = 'Give the chat a name'; return; }
      if ([...n].length > state.config.maxChatNameLength) { error.value = `At most ${state.config.maxChatNameLength} characters`; return; }
      busy.value = true;
      try {
        await createChat(n);
        state.modal = null;
      } catch (err) {
        error.value = 'Could not create the chat: ' + errorText(err);
      } finally {
        busy.value = false;
      }
    }
    return () => modalFrame('Create a group chat', [
      h('form', { id: 'create-chat-form', onSubmit: submit }, [
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'chat-name' }, 'Chat name'),
          h('div', { class: 'control' }, h('input', {
            id: 'chat-name', ref: field, class: ['input', error.value ? 'is-danger' : ''], type: 'text', maxlength: state.config.maxChatNameLength,
            placeholder: 'e.g. Coffee break', value: name.value, onInput: (e) => { name.value = e.target.value; error.value = ''; },
          })),
          error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
        ]),
      ]),
    ], [
      h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, 'Cancel'),
      h('button', { class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', form: 'create-chat-form', id: 'create-chat-submit' }, 'Create'),
    ]);
  },
};

const DeleteChatModal = {
  setup() {
    const busy = ref(false);
    const error = ref('');
    const yes = ref(null);
    onMounted(() => nextTick(() => yes.value && yes.value.focus()));
    async function confirm() {
      busy.value = true;
      try {
        await deleteChat(state.modal.chatId);
        state.modal = null;
      } catch (err) {
        error.value = 'Could not delete the chat: ' + errorText(err);
      } finally {
        busy.value = false;
      }
    }
    return () => modalFrame('Delete chat?', [
      h('p', ['Delete ', h('strong', `“${chatName(state.modal.chatId)}”`), ' and all its messages for everyone? This cannot be undone.']),
      error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
    ], [
      h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, 'Cancel'),
      h('button', { class: ['button', 'is-danger', busy.value ? 'is-loading' : ''], ref: yes, id: 'confirm-delete', onClick: confirm }, 'Delete'),
    ]);
  },
};

function modalFrame(title, body, foot) {
  return h('div', { class: 'modal is-active', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title' }, [
    h('div', { class: 'modal-background', onClick: () => { state.modal = null; } }),
    h('div', { class: 'modal-card' }, [
      h('header', { class: 'modal-card-head' }, [
        h('p', { class: 'modal-card-title', id: 'modal-title' }, title),
        h('button', { class: 'delete', 'aria-label': 'Close', onClick: () => { state.modal = null; } }),
      ]),
      h('section', { class: 'modal-card-body' }, body),
      h('footer', { class: 'modal-card-foot buttons is-right' }, foot),
    ]),
  ]);
}

// ---------- toasts ----------

function Toasts() {
  return h('div', { class: 'toasts', 'aria-live': 'polite', 'aria-relevant': 'additions' }, state.toasts.map((t) =>
    h('div', { key: t.id, class: ['toast', 'toast-' + t.kind], role: t.kind === 'danger' ? 'alert' : 'status' }, [
      h('button', { class: 'delete', 'aria-label': 'Dismiss', onClick: () => dismissToast(t.id) }),
      h('div', { class: 'toast-body' }, [
        t.icon ? icon(t.icon, { size: 16 }) : null,
        h('span', { class: 'toast-text' }, t.text),
        t.action ? h('button', { class: 'button is-small is-link ml-2 toast-action', onClick: () => { t.action.run(); dismissToast(t.id); } }, t.action.label) : null,
      ]),
    ])));
}

// ---------- the page ----------

const Main = {
  setup() {
    const onKey = (e) => {
      if (e.key === 'Escape') {
        if (state.modal) { state.modal = null; e.preventDefault(); } else if (state.sidebarOpen) state.sidebarOpen = false;
      }
    };
    onMounted(() => window.addEventListener('keydown', onKey));
    // Bring the tab in front into view in a scrolled tab strip (phones).
    watch(() => state.active, () => nextTick(() => {
      const el = document.querySelector('.chat-tab.is-active');
      if (el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }), { immediate: true });
    onBeforeUnmount(() => window.removeEventListener('keydown', onKey));
    return () => h('div', { class: 'app-shell' }, [
      Navbar(),
      ConnectionBanner(),
      h('div', { class: 'app-body' }, [
        h(Sidebar),
        state.sidebarOpen ? h('div', { class: 'sidebar-backdrop', onClick: () => { state.sidebarOpen = false; } }) : null,
        h('main', { class: 'chat-area' }, [
          Tabs(),
          state.active ? h(ChatView, { chatId: state.active, key: state.active }) : EmptyMain(),
        ]),
      ]),
      state.modal && state.modal.kind === 'create' ? h(CreateChatModal) : null,
      state.modal && state.modal.kind === 'delete' ? h(DeleteChatModal) : null,
    ]);
  },
};

export const App = {
  setup() {
    return () => h(Fragment, [
      state.phase === 'signin' ? h(SignIn)
        : state.phase === 'ready' ? h(Main)
          : h(Loading),
      Toasts(),
    ]);
  },
};
