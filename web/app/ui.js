// The components, written as render functions with h(): the page runs under
// a CSP without 'unsafe-eval', so Vue may not compile templates at run time.
import { h, ref, computed, watch, nextTick, onMounted, onBeforeUnmount, Fragment } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, outbox, boot, signInAsGuest, signOut, activate, closeTab, loadOlder, sendMessage, sendTyping,
  createChat, deleteChat, leaveChat, rename, deleteAccount, askNotifications, dismissToast, chatName, isPrivate, errorText, OfflineError,
  byteLength, markRead, toast, loadNewer, showLatest, showPage, retryNow,
} from './store.js';
import { t, tParts, strong } from './i18n.js';
import { settingsBody } from './settings.js';
import { Sidebar, BrowsePage } from './sidebar.js';
import { PeoplePage, GroupDMModal } from './people.js';
import { loginUrl } from './api.js';
import { checkName } from './names.js';
import { SearchBox } from './search.js';
import { icon, providerIcon, providerLabel } from './icons.js';
import { avatar, renderMessages, composerBar, autocomplete, completeKey, noteRead, scrollToNewLine, saveDraft } from './message.js';
import { uploadsFor, attachButton, composerHandlers, renderUploads } from './attach.js';
import { RoomHeader, RoomOverlays, Banned } from './room.js';
import { TokensModal } from './integrations.js';
import { OfflineBanner } from './offline.js';
export { avatar };

function spinner(label = t('loading')) {
  return h('span', { class: 'spinner', role: 'status', 'aria-label': label });
}

// ---------- sign-in ----------

// Why a sign-in was refused (/?signin_error=<code>, docs/api.md).
const SIGNIN_ERRORS = ['domain', 'org', 'claim', 'banned'];

function signinErrorText(code) {
  return t(SIGNIN_ERRORS.includes(code) ? 'signin.error.' + code : 'signin.error.other');
}

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
        error.value = err.message || t('signin.failed');
      } finally {
        busy.value = false;
      }
    }
    return () => h('main', { class: 'center-screen' }, [
      h('div', { class: 'box signin-box' }, [
        h('div', { class: 'brand-large' }, [icon('message', { size: 36 }), h('h1', { class: 'title is-3' }, 'Chatr')]),
        h('p', { class: 'subtitle is-6 has-text-grey' }, t('signin.subtitle')),
        state.signinError ? h('div', { class: 'notification is-danger is-light signin-error', role: 'alert', id: 'signin-error' }, [
          h('p', { class: 'has-text-weight-semibold' }, t('signin.refused')),
          h('p', signinErrorText(state.signinError)),
        ]) : null,
        state.providers.length ? h('div', { class: 'provider-list' }, state.providers.map((p) =>
          h('a', { class: ['button', 'is-fullwidth', 'provider-button', 'provider-' + p.name], href: loginUrl(p) }, [
            providerIcon(p.name, 18), h('span', t('signin.with', { provider: p.label || providerLabel(p.name) })),
          ]))) : null,
        state.providers.length && state.guest ? h('div', { class: 'divider-text' }, h('span', t('signin.or'))) : null,
        state.guest ? h('form', { class: 'guest-form', onSubmit: submit, 'aria-label': t('signin.guest') }, [
          h('div', { class: 'field' }, [
            h('label', { class: 'label', for: 'guest-name' }, t('signin.name')),
            h('div', { class: 'control' }, h('input', {
              id: 'guest-name', class: ['input', error.value ? 'is-danger' : ''], type: 'text', autocomplete: 'nickname',
              placeholder: t('signin.namePlaceholder'), value: name.value, autofocus: true,
              'aria-invalid': error.value ? 'true' : 'false', 'aria-describedby': error.value ? 'guest-name-error' : null,
              onInput: (e) => { name.value = e.target.value; error.value = ''; },
            })),
            error.value ? h('p', { class: 'help is-danger', role: 'alert', id: 'guest-name-error' }, error.value) : null,
          ]),
          h('button', { class: ['button', 'is-primary', 'is-fullwidth', busy.value ? 'is-loading' : ''], type: 'submit', id: 'guest-submit' }, t('signin.asGuest')),
        ]) : null,
        !state.guest && !state.providers.length ? h('p', { class: 'has-text-danger' }, t('signin.none')) : null,
      ]),
    ]);
  },
};

// ---------- loading ----------

const Loading = {
  setup() {
    const mark = (s) => {
      if (s.status === 'done') return h('span', { class: 'step-mark has-text-success' }, icon('check', { label: t('loading.done') }));
      if (s.status === 'active') return h('span', { class: 'step-mark' }, spinner(t('loading.active')));
      if (s.status === 'error') return h('span', { class: 'step-mark has-text-danger' }, icon('x', { label: t('loading.failed') }));
      return h('span', { class: 'step-mark has-text-grey-light' }, icon('circle', { size: 10, label: t('loading.waiting') }));
    };
    return () => h('main', { class: 'center-screen' }, [
      h('div', { class: 'box loading-box', 'aria-busy': state.error ? 'false' : 'true' }, [
        h('div', { class: 'brand-large' }, [icon('message', { size: 32 }), h('h1', { class: 'title is-4' }, 'Chatr')]),
        h('ol', { class: 'steps', 'aria-label': t('loading.steps') }, state.steps.map((s) =>
          h('li', { class: ['step', 'is-' + s.status], key: s.key }, [mark(s), h('span', t('loading.' + s.key))]))),
        state.error ? h('div', { class: 'notification is-danger is-light', role: 'alert' }, [
          h('p', state.error),
          h('div', { class: 'buttons mt-3' }, [
            h('button', { class: 'button is-small', onClick: () => { state.error = ''; boot(); } }, t('action.tryAgain')),
            h('button', { class: 'button is-small is-text', onClick: signOut }, t('action.signOut')),
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
      class: 'button is-ghost topbar-burger', 'aria-label': state.sidebarOpen ? t('nav.hideSidebar') : t('nav.showSidebar'),
      'aria-expanded': String(state.sidebarOpen), 'aria-controls': 'sidebar',
      onClick: () => { state.sidebarOpen = !state.sidebarOpen; },
    }, icon('menu', { size: 22 })),
    h('div', { class: 'topbar-brand' }, [icon('message', { size: 22 }), h('span', 'Chatr')]),
    h(SearchBox),
    h('div', { class: 'topbar-spacer' }),
    state.notify === 'default' ? h('button', {
      class: 'button is-small is-ghost', id: 'enable-notifications', title: t('nav.enableNotifications'), 'aria-label': t('nav.notifyMeLabel'),
      onClick: askNotifications,
    }, [icon('bell'), h('span', { class: 'is-hidden-mobile ml-1' }, t('nav.notifyMe'))]) : null,
    ProfileMenu(),
    h('button', { class: 'button is-small is-ghost', id: 'sign-out', 'aria-label': t('action.signOut'), title: t('action.signOut'), onClick: signOut },
      [icon('logout'), h('span', { class: 'is-hidden-mobile ml-1' }, t('action.signOut'))]),
  ]);
}

// ProfileMenu shows who is signed in (name, @handle, provider) and lets
// them change their display name.
function ProfileMenu() {
  const me = state.me;
  const open = state.menu === 'profile';
  return h('div', { class: ['dropdown', 'is-right', 'menu-anchor', open ? 'is-active' : ''] }, [
    h('button', {
      class: 'button is-ghost me-chip', id: 'profile-button', 'aria-haspopup': 'menu', 'aria-expanded': String(open),
      title: t('profile.signedInWith', { provider: providerLabel(me.provider) }),
      onClick: () => { state.menu = open ? null : 'profile'; },
    }, [
      avatar(me, 's'), h('span', { class: 'me-name' }, me.userName),
      state.idle ? h('span', { class: 'tag is-warning is-light is-rounded ml-1' }, t('profile.away')) : null,
    ]),
    open ? h('div', { class: 'dropdown-menu', role: 'menu' }, h('div', { class: 'dropdown-content' }, [
      h('div', { class: 'dropdown-item profile-card' }, [
        h('p', { class: 'has-text-weight-semibold' }, me.userName),
        me.handle ? h('p', { class: 'handle', id: 'my-handle' }, '@' + me.handle) : null,
        h('p', { class: 'is-size-7 has-text-grey' }, [providerIcon(me.provider, 12), ' ' + t('profile.signedInWith', { provider: providerLabel(me.provider) })]),
      ]),
      h('hr', { class: 'dropdown-divider' }),
      h('button', {
        class: 'dropdown-item', id: 'rename-me', role: 'menuitem',
        onClick: () => { state.menu = null; state.modal = { kind: 'rename' }; },
      }, [icon('edit', { size: 14 }), h('span', t('profile.rename'))]),
      h('button', { class: 'dropdown-item', role: 'menuitem', onClick: () => showPage('people') }, [icon('users', { size: 14 }), h('span', t('profile.people'))]),
      h('button', {
        class: 'dropdown-item', id: 'open-settings', role: 'menuitem',
        onClick: () => { state.menu = null; state.modal = { kind: 'settings' }; },
      }, [icon('settings', { size: 14 }), h('span', t('profile.settings'))]),
      h('button', { class: 'dropdown-item', id: 'api-tokens', role: 'menuitem', onClick: () => { state.menu = null; state.modal = { kind: 'tokens' }; } }, [icon('key', { size: 14 }), h('span', t('integrations.tokens'))]),
      h('hr', { class: 'dropdown-divider' }),
      // A plain link: the server answers with the file to save.
      h('a', { class: 'dropdown-item', id: 'download-my-data', role: 'menuitem', href: '/api/export', download: 'chatr-my-data.json', onClick: () => { state.menu = null; } },
        [icon('file', { size: 14 }), h('span', t('profile.download'))]),
      h('button', {
        class: 'dropdown-item has-text-danger', id: 'delete-account', role: 'menuitem',
        onClick: () => { state.menu = null; state.modal = { kind: 'deleteAccount' }; },
      }, [icon('trash', { size: 14 }), h('span', t('profile.delete'))]),
    ])) : null,
  ]);
}

function ConnectionBanner() {
  if (state.conn === 'connected') return null;
  return h('div', { class: 'conn-banner', role: 'status', id: 'conn-banner' }, [
    h('span', { class: 'spin-icon' }, icon('refresh', { size: 16 })),
    h('span', state.conn === 'stopped' ? t('conn.disconnected') : state.netOffline ? t('conn.offline') : t('conn.reconnecting')),
    h('span', { class: 'conn-sub is-hidden-mobile' }, t('conn.catchUp')),
    state.conn === 'stopped' ? null
      : h('button', { class: 'button is-small conn-retry', id: 'conn-retry', type: 'button', onClick: retryNow }, t('conn.retryNow')),
  ]);
}

// ---------- tabs ----------

function Tabs() {
  if (!state.tabs.length) return null;
  return h('nav', { class: 'chat-tabs', 'aria-label': t('tabs.label') }, h('ul', { role: 'tablist' }, state.tabs.map((id) => {
    const n = state.unread[id] || 0;
    const on = state.active === id && !state.page;
    return h('li', { key: id, class: ['chat-tab', on ? 'is-active' : ''], 'data-chat-id': id, role: 'presentation' }, [
      h('button', {
        class: 'tab-main', role: 'tab', 'aria-selected': String(on), 'aria-controls': 'chat-panel', tabindex: state.active === id ? 0 : -1,
        onClick: () => activate(id),
      }, [
        icon(isPrivate(id) ? 'lock' : 'hash', { size: 14 }),
        h('span', { class: 'tab-name' }, chatName(id)),
        n ? h('span', { class: 'tag is-danger is-rounded unread-badge', 'aria-label': t('tabs.unread', { n }) }, String(n)) : null,
      ]),
      // Only tabs may sit in a tab list: the keyboard closes a tab with Delete (a11y.js).
      h('button', { class: 'tab-close', 'aria-hidden': 'true', tabindex: -1, title: t('tabs.close', { name: chatName(id) }), onClick: () => closeTab(id) }, icon('x', { size: 14 })),
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
    const uploads = computed(() => uploadsFor(props.chatId));

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
      v.stick = atBottom(el) && !v.hasNewer;
      if (v.stick) v.newBelow = 0;
      if (el.scrollTop < 120) older();
      if (v.hasNewer && atBottom(el)) loadNewer(props.chatId);
      noteRead(props.chatId, el);
    }
    // Anything that changes the list's height: new messages, and the header
    // or spinner that appear when a load ends (the start-of-chat header is
    // rendered after the messages, and must not push the newest one out).
    watch(() => { const v = view.value; return v && [v.items.length, v.loaded, v.loading, v.hasMore, v.loadingOlder, outbox.forChat(props.chatId).length]; }, async () => {
      const v = view.value;
      if (!v) return;
      await nextTick();
      observeItems();
      if (!scrollToNewLine(v, scroller.value) && v.stick) toBottom();
      fillScreen();
      noteRead(props.chatId, scroller.value);
    });
    // Keep the newest message in view when the list changes size (a phone
    // rotating, the keyboard opening, the composer growing) and when a
    // message does after it was drawn (a font or an emoji arriving late, a
    // thumbnail taking its height): each item is observed too.
    let resize = null;
    function observeItems() {
      const el = scroller.value;
      if (resize && el) for (const li of el.children) resize.observe(li);
    }
    onMounted(() => {
      if (typeof ResizeObserver !== 'undefined' && scroller.value) {
        resize = new ResizeObserver(() => { const v = view.value; if (v && v.stick) toBottom(); });
        resize.observe(scroller.value);
        observeItems();
      }
    });
    onBeforeUnmount(() => { if (resize) resize.disconnect(); });
    onMounted(() => {
      const v = view.value;
      if (v) v.noteRead = () => noteRead(props.chatId, scroller.value);
      nextTick(() => {
        if (v && scrollToNewLine(v, scroller.value)) { /* opened at the first unread message */ }
        else if (v && !v.stick && v.scrollTop !== null && scroller.value) scroller.value.scrollTop = v.scrollTop;
        else toBottom();
        noteRead(props.chatId, scroller.value);
        fillScreen();
        if (input.value && window.matchMedia('(min-width: 769px)').matches) input.value.focus();
      });
    });
    onBeforeUnmount(() => {
      const v = view.value;
      if (v && scroller.value) v.scrollTop = scroller.value.scrollTop;
      if (v) v.noteRead = null;
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
      const up = uploads.value;
      if (up.busy) { sendError.value = t('chat.waitUploads'); return; }
      const files = up.ready();
      if (!text.trim() && !files.length) return;
      const err = sendMessage(props.chatId, text, files);
      if (err) { sendError.value = t('chat.notSent', { error: err }); return; }
      v.draft = '';
      up.clear();
      nextTick(autosize);
      sendError.value = state.conn === 'connected' ? '' : t('chat.kept');
    }
    function onKeydown(e) {
      if (completeKey(view.value, props.chatId, e)) return;
      if (e.key === 'Escape' && view.value.replyTo) { view.value.replyTo = 0; return; }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    }

    return () => {
      const v = view.value;
      if (!v) return null;
      const typers = Object.values(v.typing).map((x) => x.name);
      const bytes = byteLength(v.draft);
      const tooLong = bytes > state.config.maxMessageBytes;
      return h('section', { class: 'chat-view', id: 'chat-panel', role: 'tabpanel', 'aria-label': chatName(props.chatId), 'data-chat-id': props.chatId }, [
        RoomHeader(props.chatId),
        h('div', { class: 'messages-wrap' }, [
          h('ol', { class: 'messages', ref: scroller, onScroll, 'aria-live': 'polite', 'aria-label': t('chat.messages'), tabindex: 0 }, [
            // Floats over the messages: taking room would push them down while loading.
            v.loadingOlder ? h('li', { class: 'older-loading is-floating', key: 'older' }, h('span', { class: 'older-loading-label' }, [spinner(t('chat.loadingOlderLabel')), h('span', t('chat.loadingOlder'))])) : null,
            !v.hasMore && v.loaded ? h('li', { class: 'chat-start', key: 'start' }, [
              icon(isPrivate(props.chatId) ? 'lock' : 'hash', { size: 28 }),
              h('p', { class: 'has-text-weight-semibold' }, chatName(props.chatId)),
              h('p', { class: 'is-size-7' }, v.items.some((x) => x.kind === 'msg') ? t('chat.beginning') : t('chat.empty')),
            ]) : null,
            v.loading && !v.items.length ? h('li', { class: 'older-loading', key: 'loading' }, [spinner(), h('span', t('chat.loading'))]) : null,
            v.error ? h('li', { class: 'note is-error', key: 'error' }, h('span', v.error)) : null,
            ...renderMessages(v, props.chatId),
          ]),
          (v.newBelow > 0 || v.hasNewer) && !v.stick ? h('button', {
            class: 'button is-small is-link jump-latest', onClick: async () => { await showLatest(props.chatId); v.newBelow = 0; await nextTick(); toBottom(); markRead(props.chatId); },
          }, [icon('arrowDown', { size: 14 }), h('span', v.newBelow ? t('chat.newBelow', { n: v.newBelow }) : t('chat.latest'))]) : null,
        ]),
        h('div', { class: 'typing', 'aria-live': 'polite' }, typers.length ? [
          h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, [h('i'), h('i'), h('i')]),
          h('span', typers.length === 1 ? t('chat.typing1', { a: typers[0] }) : typers.length === 2 ? t('chat.typing2', { a: typers[0], b: typers[1] }) : t('chat.typingMany')),
        ] : null),
        ...composerBar(v, props.chatId),
        renderUploads(uploads.value),
        h('form', { class: 'composer', onSubmit: (e) => { e.preventDefault(); submit(); }, ...composerHandlers(uploads.value) }, [
          attachButton(uploads.value),
          h('label', { class: 'is-sr-only', for: 'composer-input' }, t('chat.messageTo', { name: chatName(props.chatId) })),
          h('textarea', {
            id: 'composer-input', ref: input, class: ['textarea', tooLong ? 'is-danger' : ''], rows: 1,
            placeholder: t('chat.messageTo', { name: chatName(props.chatId) }), value: v.draft, 'aria-invalid': String(tooLong), disabled: state.offline,
            'aria-describedby': 'composer-help',
            onInput: (e) => {
              v.draft = e.target.value; autosize(); sendError.value = ''; saveDraft(props.chatId, v.draft);
              if (v.draft) sendTyping(props.chatId);
              autocomplete(v, props.chatId, e.target);
            },
            onKeydown,
          }),
          h('button', {
            class: 'button is-primary send-button', type: 'submit', 'aria-label': t('chat.send'), title: t('chat.sendTitle'),
            disabled: (!v.draft.trim() && !uploads.value.ready().length) || tooLong || uploads.value.busy || state.offline,
          }, icon('send')),
        ]),
        h('p', { id: 'composer-help', class: ['composer-help', sendError.value || tooLong ? 'has-text-danger' : 'is-hidden-mobile'], role: sendError.value ? 'alert' : null },
          sendError.value || (tooLong ? t('chat.tooLong', { bytes, max: state.config.maxMessageBytes }) : t('chat.help'))),
      ]);
    };
  },
};

function EmptyMain() {
  return h('div', { class: 'empty-main' }, [
    icon('message', { size: 48 }),
    h('h2', { class: 'title is-5' }, t('empty.welcome', { name: state.me.userName })),
    h('p', t('empty.hint')),
    h('div', { class: 'buttons is-centered mt-4' }, [
      h('button', { class: 'button is-primary', onClick: () => { state.modal = { kind: 'create' }; } }, [icon('plus'), h('span', t('empty.create'))]),
      h('button', { class: 'button', onClick: () => showPage('browse') }, [icon('compass'), h('span', t('empty.browse'))]),
      h('button', { class: 'button', onClick: () => showPage('people') }, [icon('users'), h('span', t('empty.people'))]),
    ]),
  ]);
}

// ---------- modals ----------

const CreateChatModal = {
  setup() {
    const name = ref('');
    const topic = ref('');
    const visibility = ref('public');
    const error = ref('');
    const busy = ref(false);
    const field = ref(null);
    onMounted(() => nextTick(() => field.value && field.value.focus()));
    async function submit(e) {
      e.preventDefault();
      const n = name.value.trim();
      if (!n) { error.value = t('create.needName'); return; }
      if ([...n].length > state.config.maxChatNameLength) { error.value = t('create.long', { n: state.config.maxChatNameLength }); return; }
      busy.value = true;
      try {
        await createChat(n, { visibility: visibility.value, topic: topic.value.trim() });
        state.modal = null;
      } catch (err) {
        error.value = err instanceof OfflineError ? t('create.offline') : t('create.failed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    return () => modalFrame(t('create.title'), [
      h('form', { id: 'create-chat-form', onSubmit: submit }, [
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'chat-name' }, t('create.name')),
          h('div', { class: 'control' }, h('input', {
            id: 'chat-name', ref: field, class: ['input', error.value ? 'is-danger' : ''], type: 'text', maxlength: state.config.maxChatNameLength,
            placeholder: t('create.namePlaceholder'), value: name.value, onInput: (e) => { name.value = e.target.value; error.value = ''; },
          })),
          error.value ? h('p', { class: 'help is-danger', role: 'alert', id: 'create-chat-error' }, error.value) : null,
        ]),
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'chat-topic' }, [t('create.topic') + ' ', h('span', { class: 'has-text-weight-normal has-text-grey' }, t('create.optional'))]),
          h('div', { class: 'control' }, h('input', {
            id: 'chat-topic', class: 'input', type: 'text', maxlength: 250, placeholder: t('create.topicPlaceholder'),
            value: topic.value, onInput: (e) => { topic.value = e.target.value; },
          })),
        ]),
        h('fieldset', { class: 'field visibility-field' }, [
          h('legend', { class: 'label' }, t('create.who')),
          ...[
            ['public', t('create.public'), t('create.publicHelp')],
            ['private', t('create.private'), t('create.privateHelp')],
          ].map(([v, label, help]) => h('label', { class: ['visibility-option', visibility.value === v ? 'is-picked' : ''] }, [
            h('input', { type: 'radio', name: 'visibility', value: v, id: 'visibility-' + v, checked: visibility.value === v, onChange: () => { visibility.value = v; } }),
            icon(v === 'public' ? 'hash' : 'lock', { size: 16 }),
            h('span', [h('strong', label), h('span', { class: 'visibility-help' }, help)]),
          ])),
        ]),
      ]),
    ], [
      h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, t('action.cancel')),
      h('button', { class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', form: 'create-chat-form', id: 'create-chat-submit' }, t('create.submit')),
    ]);
  },
};

// confirmModal asks for a confirmation; act runs on "yes" and throws to
// show why it failed.
function confirmModal({ title, body, yes, yesClass, yesId, failed, act }) {
  return {
    setup() {
      const busy = ref(false);
      const error = ref('');
      const button = ref(null);
      onMounted(() => nextTick(() => button.value && button.value.focus()));
      async function confirm() {
        busy.value = true;
        try {
          await act(state.modal);
          state.modal = null;
        } catch (err) {
          error.value = t(failed) + errorText(err);
        } finally {
          busy.value = false;
        }
      }
      return () => modalFrame(t(title), [
        body(state.modal),
        error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
      ], [
        // The safe answer has the focus: Enter or Space must not destroy.
        h('button', { class: 'button', type: 'button', ref: button, onClick: () => { state.modal = null; } }, t('action.cancel')),
        h('button', { class: ['button', yesClass, busy.value ? 'is-loading' : ''], id: yesId, onClick: confirm }, t(yes)),
      ]);
    },
  };
}

const DeleteChatModal = confirmModal({
  title: 'delete.title',
  body: (m) => h('p', tParts('delete.body', { name: strong(`“${chatName(m.chatId)}”`) })),
  yes: 'action.delete', yesClass: 'is-danger', yesId: 'confirm-delete', failed: 'delete.failed',
  act: (m) => deleteChat(m.chatId),
});

const LeaveChatModal = confirmModal({
  title: 'leave.title',
  body: (m) => h('p', [
    ...tParts('leave.body', { name: strong(`“${chatName(m.chatId)}”`) }),
    t((state.chats[m.chatId] || {}).visibility === 'private' ? 'leave.private' : 'leave.public'),
  ]),
  yes: 'leave.yes', yesClass: 'is-danger', yesId: 'confirm-leave', failed: 'leave.failed',
  act: (m) => leaveChat(m.chatId),
});

const RenameModal = {
  setup() {
    const name = ref(state.me.userName);
    const error = ref('');
    const busy = ref(false);
    const field = ref(null);
    onMounted(() => nextTick(() => { if (field.value) { field.value.focus(); field.value.select(); } }));
    async function submit(e) {
      e.preventDefault();
      const { name: n, error: invalid } = checkName(name.value, state.maxNameLength);
      if (invalid) { error.value = invalid; return; }
      busy.value = true;
      try {
        await rename(n);
        state.modal = null;
      } catch (err) {
        error.value = t('rename.failed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    return () => modalFrame(t('rename.title'), [
      h('form', { id: 'rename-form', onSubmit: submit }, [
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'rename-input' }, t('rename.label')),
          h('div', { class: 'control' }, h('input', {
            id: 'rename-input', ref: field, class: ['input', error.value ? 'is-danger' : ''], type: 'text', autocomplete: 'nickname',
            value: name.value, onInput: (e) => { name.value = e.target.value; error.value = ''; },
          })),
          state.me.handle ? h('p', { class: 'help' }, t('rename.handle', { handle: state.me.handle })) : null,
          error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
        ]),
      ]),
    ], [
      h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, t('action.cancel')),
      h('button', { class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', form: 'rename-form', id: 'rename-submit' }, t('action.save')),
    ]);
  },
};

// DeleteAccountModal deletes the caller's account once they have typed
// their handle; the server ends every session and socket, and the page goes
// back to the sign-in screen.
const DeleteAccountModal = {
  setup() {
    const typed = ref('');
    const error = ref('');
    const busy = ref(false);
    const handle = state.me.handle || '';
    const matches = () => typed.value.trim().replace(/^@/, '').toLowerCase() === handle.toLowerCase();
    async function submit(e) {
      e.preventDefault();
      if (!matches()) { error.value = t('account.type', { handle }); return; }
      busy.value = true;
      try {
        await deleteAccount(handle);
        window.location.assign('/');
      } catch (err) {
        error.value = t('account.failed', { error: errorText(err) });
        busy.value = false;
      }
    }
    return () => modalFrame(t('account.title'), [
      h('form', { id: 'delete-account-form', onSubmit: submit }, [
        h('p', { class: 'block' }, t('account.body')),
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'delete-account-input' }, t('account.type', { handle })),
          h('div', { class: 'control' }, h('input', {
            id: 'delete-account-input', class: ['input', error.value ? 'is-danger' : ''], type: 'text', autocomplete: 'off',
            value: typed.value, onInput: (e) => { typed.value = e.target.value; error.value = ''; },
          })),
          error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
        ]),
      ]),
    ], [
      h('button', { class: 'button', type: 'button', onClick: () => { state.modal = null; } }, t('action.cancel')),
      h('button', {
        class: ['button', 'is-danger', busy.value ? 'is-loading' : ''], type: 'submit', form: 'delete-account-form', id: 'delete-account-submit',
        disabled: !matches(),
      }, t('account.submit')),
    ]);
  },
};

export function modalFrame(title, body, foot) {
  return h('div', { class: 'modal is-active', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title' }, [
    h('div', { class: 'modal-background', onClick: () => { state.modal = null; } }),
    h('div', { class: 'modal-card' }, [
      h('header', { class: 'modal-card-head' }, [
        h('p', { class: 'modal-card-title', id: 'modal-title' }, title),
        h('button', { class: 'delete', 'aria-label': t('action.close'), onClick: () => { state.modal = null; } }),
      ]),
      h('section', { class: 'modal-card-body' }, body),
      h('footer', { class: 'modal-card-foot buttons is-right' }, foot),
    ]),
  ]);
}

// SettingsModal is the settings dialog (profile menu → Settings); every
// choice applies at once, so its one button closes it.
const SettingsModal = {
  setup() {
    const permission = () => (state.notify === 'default' ? h('p', { class: 'help settings-permission' }, [
      t('settings.notify.permission') + ' ',
      h('button', { class: 'button is-small is-text', type: 'button', id: 'settings-enable-notifications', onClick: askNotifications }, t('nav.enableNotifications')),
    ]) : null);
    return () => modalFrame(t('settings.title'), h('div', { id: 'settings-form' }, settingsBody(permission())), [
      h('button', { class: 'button is-primary', type: 'button', id: 'settings-done', onClick: () => { state.modal = null; } }, t('settings.done')),
    ]);
  },
};

// ---------- toasts ----------

function Toasts() {
  return h('div', { class: 'toasts', 'aria-live': 'polite', 'aria-relevant': 'additions' }, state.toasts.map((x) =>
    h('div', { key: x.id, class: ['toast', 'toast-' + x.kind], role: x.kind === 'danger' ? 'alert' : 'status' }, [
      h('button', { class: 'delete', 'aria-label': t('action.dismiss'), onClick: () => dismissToast(x.id) }),
      h('div', { class: 'toast-body' }, [
        x.icon ? icon(x.icon, { size: 16 }) : null,
        h('span', { class: 'toast-text' }, x.text),
        x.action ? h('button', { class: 'button is-small is-link ml-2 toast-action', onClick: () => { x.action.run(); dismissToast(x.id); } }, x.action.label) : null,
      ]),
    ])));
}

// ---------- the page ----------

const Main = {
  setup() {
    const onKey = (e) => {
      if (e.key === 'Escape') {
        if (state.modal) { state.modal = null; e.preventDefault(); } else if (state.menu) state.menu = null;
        else if (state.sidebarOpen) state.sidebarOpen = false;
      }
    };
    // A click outside an open menu closes it.
    const onClick = (e) => { if (state.menu && !(e.target.closest && e.target.closest('.menu-anchor'))) state.menu = null; };
    onMounted(() => { window.addEventListener('keydown', onKey); window.addEventListener('click', onClick, true); });
    // Bring the tab in front into view in a scrolled tab strip (phones).
    watch(() => state.active, () => nextTick(() => {
      const el = document.querySelector('.chat-tab.is-active');
      if (el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }), { immediate: true });
    onBeforeUnmount(() => { window.removeEventListener('keydown', onKey); window.removeEventListener('click', onClick, true); });
    const modals = {
      create: CreateChatModal, delete: DeleteChatModal, leave: LeaveChatModal, rename: RenameModal, groupdm: GroupDMModal, deleteAccount: DeleteAccountModal,
      settings: SettingsModal, tokens: TokensModal,
    };
    return () => h('div', { class: 'app-shell' }, [
      Navbar(),
      state.offline ? OfflineBanner() : ConnectionBanner(),
      h('div', { class: 'app-body' }, [
        h(Sidebar),
        state.sidebarOpen ? h('div', { class: 'sidebar-backdrop', onClick: () => { state.sidebarOpen = false; } }) : null,
        h('main', { class: 'chat-area' }, [
          Tabs(),
          state.page === 'people' ? h(PeoplePage)
            : state.page === 'browse' ? h(BrowsePage)
              : state.active ? h(ChatView, { chatId: state.active, key: state.active }) : EmptyMain(),
        ]),
      ]),
      state.modal && modals[state.modal.kind] ? h(modals[state.modal.kind]) : null,
      h(RoomOverlays),
    ]);
  },
};

export const App = {
  setup() {
    return () => h(Fragment, [
      state.phase === 'signin' ? h(SignIn)
        : state.phase === 'banned' ? h(Banned)
        : state.phase === 'ready' ? h(Main)
          : h(Loading),
      Toasts(),
    ]);
  },
};
