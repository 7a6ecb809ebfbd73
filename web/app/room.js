// A room's side of the app: its header (name, topic, members), the member
// panel with presence, roles and moderation, the settings and invite
// dialogs, invite links opened at /invite/<token>, the page a banned user
// sees, and the chat events that change a room (docs/api.md, "Rooms,
// people and admins"). The server decides every permission; the buttons
// shown here only follow the caller's role.
import { h, ref, reactive, computed, watch, nextTick, onMounted, onBeforeUnmount } from '/vendor/vue.runtime.esm-browser.prod.js';
import {
  state, sendEvent, chatById, chatName, isPrivate, isJoined, openChat, confirmLeave, watchUsers, toast, errorText,
} from './store.js';
import { roomApi } from './roomapi.js';
import { icon } from './icons.js';
import { Integrations } from './integrations.js';
import { initials, hue, fullTime } from './text.js';
import { OutgoingWebhooks } from './outgoing.js';
import { chatNotifyItems } from './settings.js';
import { t, relativeFormat } from './i18n.js';

const INVITE_KEY = 'chatr.invite';
const SEARCH_DELAY_MS = 250;
const MAX_TOPIC = 250; // a budget for the field; the server has its own
const MAX_INVITE_USES = 10000;
const MAX_PICKED = 50; // inviteMembers takes at most 50 users

export const room = reactive({
  panel: null,    // the chat id whose member panel is open
  dialog: null,   // {kind: 'settings' | 'invite', chatId} | {kind: 'confirm', title, text, label, run}
  notice: null,   // {title, text}: an invite link that could not be used
});

let pendingInvite = '';

// ---------- roles ----------

function myRole(c) {
  if (!c || !state.me) return '';
  if (c.role) return c.role;
  if (c.owner === state.me.userId) return 'owner';
  const m = c.members && c.members[state.me.userId];
  return (m && m.role) || (m ? 'member' : '');
}

// roleOf: the member's role as the chat lists it, else as the panel's
// snapshot does, else owner or member.
function roleOf(c, userId, fallback) {
  const m = c && c.members && c.members[userId];
  if (m && m.role) return m.role;
  if (fallback) return fallback;
  return c && c.owner === userId ? 'owner' : 'member';
}

function isAdmin() {
  return !!(state.me && state.me.admin);
}

function isGroup(c) {
  return !!c && !isPrivate(c.id) && (!c.kind || c.kind === 'group');
}

// canModerate: the owner, a moderator or an admin may change the room and
// remove members.
function canModerate(c) {
  const r = myRole(c);
  return isGroup(c) && (isAdmin() || r === 'owner' || r === 'moderator');
}

function canInvite(c) {
  if (!isGroup(c)) return false;
  if (c.invitePolicy === 'moderators') return canModerate(c);
  return isAdmin() || myRole(c) !== '';
}

// canSetRoles: setRole is for the owner and admins.
function canSetRoles(c) {
  return isGroup(c) && (isAdmin() || myRole(c) === 'owner');
}

// memberCount: a large chat's members hear its count (membersChanged), not
// each join.
function memberCount(c) {
  if (c && typeof c.memberCount === 'number') return c.memberCount;
  return Object.keys((c && c.members) || {}).length;
}

// ---------- header ----------

// RoomHeader is the top of a chat view: name, topic, member count, and the
// actions the caller's role allows.
export function RoomHeader(chatId) {
  const c = chatById(chatId);
  const n = memberCount(c);
  const priv = isPrivate(chatId) || (c && c.visibility === 'private');
  return h('header', { class: 'room-header', id: 'room-header', 'data-chat-id': chatId, 'data-visibility': priv ? 'private' : 'public' }, [
    h('div', { class: 'room-heading' }, [
      h('span', { class: 'room-glyph' }, icon(priv ? 'lock' : 'hash', { size: 18 })),
      h('div', { class: 'room-titles' }, [
        h('h2', { class: 'room-name', id: 'room-name' }, chatName(chatId)),
        c && c.topic ? h('p', { class: 'room-topic', id: 'room-topic', title: c.topic }, c.topic)
          : canModerate(c) ? h('button', { class: 'room-topic is-empty', onClick: () => openDialog('settings', chatId) }, t('room.addTopic')) : null,
      ]),
    ]),
    h('div', { class: 'room-actions' }, [
      canInvite(c) ? h('button', {
        class: 'button is-small is-ghost', id: 'room-invite', title: t('room.invitePeople'), 'aria-label': t('room.invitePeople'),
        onClick: () => openDialog('invite', chatId),
      }, [icon('userPlus', { size: 16 }), h('span', { class: 'is-hidden-mobile ml-1' }, t('room.invite'))]) : null,
      h('button', {
        class: ['button', 'is-small', 'is-ghost', 'room-members-button'], id: 'room-members',
        title: t('room.members'), 'aria-label': t('room.showMembers', { n }), 'aria-expanded': String(room.panel === chatId),
        onClick: () => { room.panel = room.panel === chatId ? null : chatId; },
      }, [icon('users', { size: 16 }), h('span', { class: 'ml-1 member-count' }, String(n))]),
      isGroup(c) && isJoined(c) ? RoomMenu(c) : c ? RoomMenu(c, false) : null,
    ]),
  ]);
}

// RoomMenu holds the header's less frequent actions: the chat's
// notifications, and in a group chat its settings (owner, moderators,
// admins) and leaving.
function RoomMenu(c, group = true) {
  const key = 'room:' + c.id;
  const open = state.menu === key;
  const item = (id, name, label, run, cls = '') => h('button', {
    class: ['dropdown-item', cls], id, role: 'menuitem', onClick: () => { state.menu = null; run(); },
  }, [icon(name, { size: 14 }), h('span', label)]);
  return h('div', { class: ['dropdown', 'is-right', 'menu-anchor', open ? 'is-active' : ''] }, [
    h('button', {
      class: 'button is-small is-ghost', id: 'room-menu', title: t('action.more'), 'aria-label': t('side.moreFor', { name: chatName(c.id) }),
      'aria-haspopup': 'menu', 'aria-expanded': String(open), onClick: () => { state.menu = open ? null : key; },
    }, icon('more', { size: 16 })),
    open ? h('div', { class: 'dropdown-menu', role: 'menu' }, h('div', { class: 'dropdown-content' }, [
      ...chatNotifyItems(c.id, () => { state.menu = null; }),
      group ? h('hr', { class: 'dropdown-divider' }) : null,
      group && canModerate(c) ? item('room-settings', 'settings', t('room.settings'), () => openDialog('settings', c.id)) : null,
      // Members the chat lets invite may add webhooks too (the settings are the moderators').
      group && !canModerate(c) && canInvite(c) ? item('room-integrations', 'key', t('integrations.title'), () => openDialog('integrations', c.id)) : null,
      group ? item('room-leave', 'logout', t('side.leave'), () => confirmLeave(c.id), 'has-text-danger') : null,
    ])) : null,
  ]);
}

function openDialog(kind, chatId) {
  room.dialog = { kind, chatId };
}

function confirmThen(title, text, label, run) {
  room.dialog = { kind: 'confirm', title, text, label, run };
}

// ---------- member panel ----------

function avatar(u) {
  return h('span', {
    class: ['avatar', 'avatar-s'], 'aria-hidden': 'true', style: { backgroundColor: `hsl(${hue(u.userId)} 55% 30%)` },
  }, initials(u.userName || '?'));
}

// presence is what the page knows of a member now (state.people, kept live
// by the presence events of the users it watches), else the panel's snapshot.
function presence(m) {
  const live = state.people[m.userId];
  if (live && typeof live.online === 'boolean') return { online: live.online, idle: !!live.idle, lastSeen: live.lastSeen || m.lastSeen };
  return { online: !!m.online, idle: !!m.idle, lastSeen: m.lastSeen };
}

// lastSeenText says when an offline user was last seen, roughly.
function lastSeenText(iso, now = Date.now()) {
  const at = new Date(iso).getTime();
  if (!iso || isNaN(at)) return t('presence.Offline');
  const s = Math.max(0, Math.round((now - at) / 1000));
  const ago = relativeFormat();
  for (const [unit, secs] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (s >= secs && ago) return t('room.lastSeen', { when: ago.format(-Math.floor(s / secs), unit) });
  }
  return t('room.lastSeenNow');
}

const ROLE_ORDER = { owner: 0, moderator: 1, member: 2 };

const MemberPanel = {
  props: { chatId: String },
  setup(props) {
    const snapshot = ref([]);
    const loading = ref(true);
    const error = ref('');
    const open = ref(''); // the member whose actions show
    const chat = computed(() => chatById(props.chatId));
    async function load() {
      const c = chat.value;
      watchUsers(Object.keys((c && c.members) || {}));
      try {
        const list = await roomApi.members(props.chatId);
        snapshot.value = list;
        error.value = '';
        // From now on their presence changes reach this page.
        watchUsers(list.map((m) => m.userId));
      } catch (err) {
        error.value = t('room.membersFailed', { error: err.message || err });
      } finally {
        loading.value = false;
      }
    }
    onMounted(load);
    // Someone joined or left: their presence comes with a fresh snapshot.
    watch(() => Object.keys((chat.value && chat.value.members) || {}).sort().join(), load);
    // A large chat's changes come as a count: reload at most every 2 s.
    let reload = null;
    watch(() => chat.value && chat.value.membersVersion, () => {
      if (!reload) reload = setTimeout(() => { reload = null; load(); }, 2000);
    });
    onBeforeUnmount(() => clearTimeout(reload));

    // rows: the chat's live member list, with the snapshot's presence and
    // handles; the snapshot alone while the chat lists no members.
    const rows = computed(() => {
      const c = chat.value;
      const byId = Object.fromEntries(snapshot.value.map((m) => [m.userId, m]));
      const live = Object.values((c && c.members) || {});
      const list = (live.length ? live : snapshot.value).map((m) => ({ ...byId[m.userId], ...m, role: roleOf(c, m.userId, (byId[m.userId] || {}).role) }));
      return list.sort((a, b) => (ROLE_ORDER[a.role] ?? 2) - (ROLE_ORDER[b.role] ?? 2) ||
        Number(presence(b).online) - Number(presence(a).online) || (a.userName || '').localeCompare(b.userName || ''));
    });

    function run(what, p) {
      open.value = '';
      p.catch((err) => toast(t('msg.failed', { what: t(what), error: errorText(err) }), { kind: 'danger' }));
    }
    function actions(c, m) {
      const me = state.me.userId;
      if (m.userId === me) return [];
      const out = [];
      if (canModerate(c) && m.role !== 'owner') {
        out.push(['remove', t('room.remove'), () => confirmThen(t('room.removeQ'),
          t(c.visibility === 'private' ? 'room.removeBodyPrivate' : 'room.removeBody', { name: m.userName, chat: chatName(c.id) }), t('room.removeYes'),
          () => sendEvent('removeMember', { chatId: c.id, userId: m.userId }))]);
      }
      if (canSetRoles(c) && m.role === 'member') {
        out.push(['promote', t('room.promote'), () => run('room.doPromote', sendEvent('setRole', { chatId: c.id, userId: m.userId, role: 'moderator' }))]);
      }
      if (canSetRoles(c) && m.role === 'moderator') {
        out.push(['demote', t('room.demote'), () => run('room.doDemote', sendEvent('setRole', { chatId: c.id, userId: m.userId, role: 'member' }))]);
      }
      if (canSetRoles(c) && m.role !== 'owner') {
        out.push(['owner', t('room.owner'), () => confirmThen(t('room.ownerQ'), t('room.ownerBody', { name: m.userName, chat: chatName(c.id) }) +
          (myRole(c) === 'owner' ? t('room.ownerYouModerator') : ''), t('room.owner'),
        () => sendEvent('setRole', { chatId: c.id, userId: m.userId, role: 'owner' }))]);
      }
      if (isAdmin()) {
        out.push(['ban', t('room.ban'), () => confirmThen(t('room.banQ'), t('room.banBody', { name: m.userName }), t('room.banYes'),
          () => roomApi.ban(m.userId))]);
      }
      return out;
    }
    function row(c, m) {
      const p = presence(m);
      const acts = actions(c, m);
      const status = p.online ? t(p.idle ? 'presence.Away' : 'presence.Online') : lastSeenText(p.lastSeen);
      return h('li', {
        key: m.userId, class: ['member', p.online ? (p.idle ? 'is-idle' : 'is-online') : 'is-offline'],
        'data-user-id': m.userId, 'data-role': m.role,
      }, [
        h('div', { class: 'member-main' }, [
          h('span', { class: 'avatar-wrap' }, [avatar(m), h('span', { class: ['presence-dot', p.online ? (p.idle ? 'is-idle' : 'is-online') : 'is-offline'] })]),
          h('div', { class: 'member-text' }, [
            h('div', { class: 'member-line' }, [
              h('span', { class: 'member-name' }, m.userName || t('chat.someone')),
              m.userId === state.me.userId ? h('span', { class: 'you' }, t('people.you')) : null,
              m.role === 'owner' || m.role === 'moderator'
                ? h('span', { class: ['tag', 'is-rounded', 'role-badge', 'is-' + m.role] }, t(m.role === 'owner' ? 'room.roleOwner' : 'room.roleModerator')) : null,
            ]),
            h('div', { class: 'member-status', title: p.lastSeen && !p.online ? fullTime(p.lastSeen) : null },
              [m.handle ? h('span', { class: 'member-handle' }, '@' + m.handle + ' · ') : null, h('span', { class: 'presence-text' }, status)]),
          ]),
          acts.length ? h('button', {
            class: 'button is-small is-ghost member-menu', 'aria-label': t('room.actionsFor', { name: m.userName }), 'aria-expanded': String(open.value === m.userId),
            onClick: () => { open.value = open.value === m.userId ? '' : m.userId; },
          }, icon('more', { size: 16 })) : null,
        ]),
        open.value === m.userId ? h('div', { class: 'member-actions buttons are-small' }, acts.map(([key, label, fn]) =>
          h('button', { class: ['button', 'is-small', key === 'remove' || key === 'ban' ? 'is-danger is-light' : 'is-light'], 'data-action': key, onClick: fn }, label))) : null,
      ]);
    }
    return () => {
      const c = chat.value;
      if (!c) return null;
      const list = rows.value;
      const online = list.filter((m) => presence(m).online).length;
      return h('aside', { class: 'member-panel', id: 'member-panel', 'aria-label': t('room.membersOf', { name: chatName(props.chatId) }) }, [
        h('header', { class: 'member-panel-head' }, [
          h('div', [h('h2', { class: 'title is-6 mb-0' }, t('room.members')), h('p', { class: 'is-size-7 has-text-grey' }, t('room.countOnline', { n: list.length, online }))]),
          h('button', { class: 'delete', 'aria-label': t('room.closeMembers'), id: 'member-panel-close', onClick: () => { room.panel = null; } }),
        ]),
        loading.value && !list.length ? h('p', { class: 'member-empty' }, t('room.loading')) : null,
        error.value ? h('p', { class: 'member-empty has-text-danger' }, error.value) : null,
        h('ul', { class: 'member-list', id: 'member-list' }, list.map((m) => row(c, m))),
        canInvite(c) ? h('div', { class: 'member-panel-foot' }, h('button', { class: 'button is-small is-primary is-light is-fullwidth', onClick: () => openDialog('invite', c.id) },
          [icon('userPlus', { size: 16 }), h('span', { class: 'ml-1' }, t('room.invitePeople'))])) : null,
      ]);
    };
  },
};

// ---------- dialogs ----------

function close() {
  room.dialog = null;
}

function dialogFrame(title, body, foot, id) {
  return h('div', { class: 'modal is-active room-dialog', id, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': id + '-title' }, [
    h('div', { class: 'modal-background', onClick: close }),
    h('div', { class: 'modal-card' }, [
      h('header', { class: 'modal-card-head' }, [
        h('p', { class: 'modal-card-title', id: id + '-title' }, title),
        h('button', { class: 'delete', 'aria-label': t('action.close'), onClick: close }),
      ]),
      h('section', { class: 'modal-card-body' }, body),
      foot ? h('footer', { class: 'modal-card-foot buttons is-right' }, foot) : null,
    ]),
  ]);
}

function radios(name, value, options, set) {
  return h('div', { class: 'radio-group', role: 'radiogroup' }, options.map(([v, label, help]) =>
    h('label', { class: ['radio-card', value === v ? 'is-selected' : ''] }, [
      h('input', { type: 'radio', name, value: v, checked: value === v, onChange: () => set(v) }),
      h('span', [h('strong', label), h('br'), h('span', { class: 'is-size-7 has-text-grey' }, help)]),
    ])));
}

const ConfirmDialog = {
  setup() {
    const busy = ref(false);
    const error = ref('');
    const yes = ref(null);
    onMounted(() => nextTick(() => yes.value && yes.value.focus()));
    async function confirm() {
      const d = room.dialog;
      busy.value = true;
      try {
        await d.run();
        if (room.dialog === d) close();
      } catch (err) {
        error.value = errorText(err);
      } finally {
        busy.value = false;
      }
    }
    return () => dialogFrame(room.dialog.title, [
      h('p', room.dialog.text),
      error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
    ], [
      h('button', { class: 'button', type: 'button', ref: yes, onClick: close }, t('action.cancel')),
      h('button', { class: ['button', 'is-danger', busy.value ? 'is-loading' : ''], id: 'room-confirm', onClick: confirm }, room.dialog.label),
    ], 'confirm-dialog');
  },
};

// IntegrationsDialog is the chat's incoming webhooks for a member who may
// add them but not change the chat's settings.
const IntegrationsDialog = {
  props: { chatId: String },
  setup(props) {
    return () => dialogFrame(t('integrations.title'), [h(Integrations, { chatId: props.chatId })],
      [h('button', { class: 'button', type: 'button', onClick: close }, t('action.close'))], 'integrations-dialog');
  },
};

const SettingsDialog = {
  props: { chatId: String },
  setup(props) {
    const c = chatById(props.chatId) || {};
    const form = reactive({
      name: c.name || '', topic: c.topic || '',
      visibility: c.visibility || 'public', invitePolicy: c.invitePolicy || 'members',
    });
    const busy = ref(false);
    const error = ref('');
    async function save(e) {
      e.preventDefault();
      const now = chatById(props.chatId);
      if (!now) return close();
      const name = form.name.trim();
      if (!name) { error.value = t('create.needName'); return; }
      if ([...name].length > state.config.maxChatNameLength) { error.value = t('create.long', { n: state.config.maxChatNameLength }); return; }
      const change = { chatId: props.chatId };
      if (name !== now.name) change.name = name;
      if (form.topic.trim() !== (now.topic || '')) change.topic = form.topic.trim();
      if (form.visibility !== (now.visibility || 'public')) change.visibility = form.visibility;
      if (form.invitePolicy !== (now.invitePolicy || 'members')) change.invitePolicy = form.invitePolicy;
      if (Object.keys(change).length === 1) return close();
      busy.value = true;
      try {
        await sendEvent('updateChat', change);
        close();
      } catch (err) {
        error.value = err.name === 'Conflict' ? t('room.nameTaken') : t('room.saveFailed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    function remove() {
      close();
      state.modal = { kind: 'delete', chatId: props.chatId };
    }
    return () => dialogFrame(t('room.settings'), [
      h('form', { id: 'room-settings-form', onSubmit: save }, [
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'room-name-input' }, t('room.name')),
          h('input', {
            id: 'room-name-input', class: 'input', type: 'text', maxlength: state.config.maxChatNameLength, value: form.name,
            onInput: (e) => { form.name = e.target.value; error.value = ''; },
          }),
        ]),
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'room-topic-input' }, t('create.topic')),
          h('input', {
            id: 'room-topic-input', class: 'input', type: 'text', maxlength: MAX_TOPIC, value: form.topic, placeholder: t('room.topicPlaceholder'),
            onInput: (e) => { form.topic = e.target.value; error.value = ''; },
          }),
        ]),
        h('fieldset', { class: 'field' }, [
          h('legend', { class: 'label' }, t('create.who')),
          radios('visibility', form.visibility, [
            ['public', t('create.public'), t('room.publicHelp')],
            ['private', t('create.private'), t('room.privateHelp')],
          ], (v) => { form.visibility = v; }),
        ]),
        h('fieldset', { class: 'field' }, [
          h('legend', { class: 'label' }, t('room.whoInvites')),
          radios('invitePolicy', form.invitePolicy, [
            ['members', t('room.everyMember'), t('room.everyMemberHelp')],
            ['moderators', t('room.moderators'), t('room.moderatorsHelp')],
          ], (v) => { form.invitePolicy = v; }),
        ]),
        error.value ? h('p', { class: 'help is-danger', role: 'alert' }, error.value) : null,
      ]),
      h(Integrations, { chatId: props.chatId }),
      h(OutgoingWebhooks, { chatId: props.chatId }),
      h('div', { class: 'danger-zone' }, [
        h('div', [h('strong', t('room.deleteChat')), h('p', { class: 'is-size-7 has-text-grey' }, t('room.deleteHelp'))]),
        h('button', { class: 'button is-danger is-light is-small', type: 'button', id: 'room-delete', onClick: remove }, [icon('trash', { size: 14 }), h('span', { class: 'ml-1' }, t('room.deleteDots'))]),
      ]),
    ], [
      h('button', { class: 'button', type: 'button', onClick: close }, t('action.cancel')),
      h('button', { class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', form: 'room-settings-form', id: 'room-settings-save' }, t('action.save')),
    ], 'settings-dialog');
  },
};

// EXPIRIES are the link lifetimes offered; the server takes 60 s to 365
// days, so the longest is a year rather than never.
const EXPIRIES = [['3600', 'room.expiry.hour'], ['86400', 'room.expiry.day'], ['604800', 'room.expiry.week'], ['2592000', 'room.expiry.month'], ['31536000', 'room.expiry.year']];

function expiryText(iso) {
  const at = new Date(iso).getTime();
  if (!iso || isNaN(at)) return t('room.neverExpires');
  return t(at <= Date.now() ? 'room.expired' : 'room.expires', { time: fullTime(iso) });
}

const InviteDialog = {
  props: { chatId: String },
  setup(props) {
    const tab = ref('people');
    // People.
    const query = ref('');
    const found = ref([]);
    const searching = ref(false);
    const picked = ref([]);
    const peopleError = ref('');
    const busy = ref(false);
    let timer = null;
    let searchSeq = 0;
    function search() {
      clearTimeout(timer);
      const q = query.value.trim();
      if (!q) { found.value = []; return; }
      timer = setTimeout(async () => {
        const seq = ++searchSeq;
        searching.value = true;
        try {
          const users = await roomApi.searchUsers(q);
          if (seq === searchSeq) found.value = users;
        } catch (err) {
          if (seq === searchSeq) peopleError.value = t('search.failed', { error: err.message || err });
        } finally {
          if (seq === searchSeq) searching.value = false;
        }
      }, SEARCH_DELAY_MS);
    }
    onBeforeUnmount(() => clearTimeout(timer));
    function isMember(userId) {
      const c = chatById(props.chatId);
      return !!(c && c.members && c.members[userId]);
    }
    function pick(u) {
      if (picked.value.some((p) => p.userId === u.userId) || picked.value.length >= MAX_PICKED) return;
      picked.value = [...picked.value, u];
    }
    async function invitePeople() {
      if (!picked.value.length) return;
      busy.value = true;
      peopleError.value = '';
      try {
        await sendEvent('inviteMembers', { chatId: props.chatId, userIds: picked.value.map((u) => u.userId) });
        toast(t('room.invited', { names: picked.value.map((u) => u.userName).join(', ') }), { kind: 'success', icon: 'userPlus' });
        picked.value = [];
      } catch (err) {
        peopleError.value = t('room.inviteFailed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    // Links.
    const expires = ref('86400');
    const maxUses = ref('');
    const created = ref(null);
    const invites = ref([]);
    const linkError = ref('');
    const copied = ref(false);
    async function loadInvites() {
      try {
        invites.value = await roomApi.invites(props.chatId);
      } catch (err) {
        linkError.value = t('room.linksFailed', { error: err.message || err });
      }
    }
    watch(tab, (which) => { if (which === 'links') loadInvites(); });
    async function createLink(e) {
      e.preventDefault();
      const uses = maxUses.value === '' ? 0 : Number(maxUses.value);
      if (!Number.isInteger(uses) || uses < 0 || uses > MAX_INVITE_USES) { linkError.value = t('room.usesError', { max: MAX_INVITE_USES }); return; }
      busy.value = true;
      linkError.value = '';
      copied.value = false;
      try {
        const inv = await roomApi.createInvite(props.chatId, { expiresInSeconds: Number(expires.value), maxUses: uses });
        created.value = { ...inv, url: inv.url || `${location.origin}/invite/${inv.token}` };
        await loadInvites();
      } catch (err) {
        linkError.value = t('room.linkFailed', { error: err.message || err });
      } finally {
        busy.value = false;
      }
    }
    async function copy() {
      try {
        await navigator.clipboard.writeText(created.value.url);
        copied.value = true;
      } catch {
        // No clipboard access (an insecure origin): select it for copying by hand.
        const el = document.getElementById('invite-url');
        if (el) { el.focus(); el.select(); }
      }
    }
    async function revoke(inv) {
      try {
        await roomApi.revokeInvite(props.chatId, inv.id);
        await loadInvites();
      } catch (err) {
        linkError.value = t('room.revokeFailed', { error: err.message || err });
      }
    }
    function creatorName(id) {
      const c = chatById(props.chatId);
      const m = c && c.members && c.members[id];
      if (id === state.me.userId) return 'you';
      return (m && m.userName) || t('room.formerMember');
    }

    function peopleTab() {
      return [
        h('div', { class: 'field' }, [
          h('label', { class: 'label', for: 'invite-search' }, t('room.findPeople')),
          h('div', { class: ['control', searching.value ? 'is-loading' : ''] }, h('input', {
            id: 'invite-search', class: 'input', type: 'search', placeholder: t('room.nameOrHandle'), value: query.value, autocomplete: 'off', maxlength: 64,
            onInput: (e) => { query.value = e.target.value; peopleError.value = ''; search(); },
          })),
        ]),
        picked.value.length ? h('div', { class: 'tags picked' }, picked.value.map((u) => h('span', { class: 'tag is-link is-light', key: u.userId }, [
          u.userName, h('button', { class: 'delete is-small', 'aria-label': t('room.doNotInvite', { name: u.userName }), onClick: () => { picked.value = picked.value.filter((p) => p.userId !== u.userId); } }),
        ]))) : null,
        h('ul', { class: 'invite-results', id: 'invite-results' }, found.value.map((u) => {
          const member = isMember(u.userId);
          const chosen = picked.value.some((p) => p.userId === u.userId);
          return h('li', { key: u.userId, 'data-user-id': u.userId }, h('button', {
            class: 'invite-result', disabled: member || chosen, onClick: () => pick(u),
          }, [avatar(u), h('span', { class: 'member-name' }, u.userName), u.handle ? h('span', { class: 'member-handle' }, '@' + u.handle) : null,
            h('span', { class: 'invite-state' }, t(member ? 'room.stateMember' : chosen ? 'room.statePicked' : 'room.stateAdd'))]));
        })),
        query.value.trim() && !searching.value && !found.value.length ? h('p', { class: 'is-size-7 has-text-grey' }, t('room.nobody')) : null,
        peopleError.value ? h('p', { class: 'help is-danger', role: 'alert' }, peopleError.value) : null,
        h('button', {
          class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], id: 'invite-people', disabled: !picked.value.length, onClick: invitePeople,
        }, picked.value.length ? t('room.inviteN', { n: picked.value.length }) : t('room.invite')),
      ];
    }
    function linksTab() {
      return [
        h('form', { class: 'invite-form', id: 'invite-link-form', onSubmit: createLink }, [
          h('div', { class: 'field' }, [
            h('label', { class: 'label', for: 'invite-expiry' }, t('room.expiresLabel')),
            h('div', { class: 'select' }, h('select', { id: 'invite-expiry', value: expires.value, onChange: (e) => { expires.value = e.target.value; } },
              EXPIRIES.map(([v, key]) => h('option', { value: v, selected: expires.value === v }, t(key))))),
          ]),
          h('div', { class: 'field' }, [
            h('label', { class: 'label', for: 'invite-max-uses' }, t('room.maxUses')),
            h('input', {
              id: 'invite-max-uses', class: 'input', type: 'number', min: 1, max: MAX_INVITE_USES, placeholder: t('room.noLimit'), value: maxUses.value,
              onInput: (e) => { maxUses.value = e.target.value; },
            }),
          ]),
          h('button', { class: ['button', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', id: 'invite-create' }, [icon('link', { size: 16 }), h('span', { class: 'ml-1' }, t('room.createLink'))]),
        ]),
        created.value ? h('div', { class: 'field has-addons created-link' }, [
          h('div', { class: 'control is-expanded' }, h('input', { id: 'invite-url', class: 'input', readonly: true, value: created.value.url, onFocus: (e) => e.target.select() })),
          h('div', { class: 'control' }, h('button', { class: 'button is-link', id: 'invite-copy', type: 'button', onClick: copy }, copied.value ? t('md.copied') : t('md.copy'))),
        ]) : null,
        linkError.value ? h('p', { class: 'help is-danger', role: 'alert' }, linkError.value) : null,
        h('h3', { class: 'invite-list-title' }, t('room.links')),
        invites.value.length ? h('ul', { class: 'invite-list', id: 'invite-list' }, invites.value.map((inv) => h('li', {
          key: inv.id, class: ['invite-row', inv.revoked ? 'is-revoked' : ''], 'data-invite-id': inv.id,
        }, [
          h('div', { class: 'invite-row-text' }, [
            h('div', [t('room.by', { name: creatorName(inv.createdBy) }) + ' · ', h('span', { class: 'invite-uses' }, inv.maxUses ? t('room.usesOf', { n: inv.uses || 0, max: inv.maxUses }) : t('room.uses', { n: inv.uses || 0 }))]),
            h('div', { class: 'is-size-7 has-text-grey' }, inv.revoked ? t('room.revoked') : expiryText(inv.expires)),
          ]),
          inv.revoked ? null : h('button', { class: 'button is-small is-danger is-light invite-revoke', onClick: () => revoke(inv) }, t('room.revoke')),
        ]))) : h('p', { class: 'is-size-7 has-text-grey' }, t('room.noLinks')),
      ];
    }
    return () => dialogFrame(t('room.inviteTo', { name: chatName(props.chatId) }), [
      h('div', { class: 'tabs is-small' }, h('ul', [
        h('li', { class: tab.value === 'people' ? 'is-active' : '' }, h('a', { href: '#', id: 'invite-tab-people', onClick: (e) => { e.preventDefault(); tab.value = 'people'; } }, t('people.title'))),
        h('li', { class: tab.value === 'links' ? 'is-active' : '' }, h('a', { href: '#', id: 'invite-tab-links', onClick: (e) => { e.preventDefault(); tab.value = 'links'; } }, t('room.inviteLinks'))),
      ])),
      ...(tab.value === 'people' ? peopleTab() : linksTab()),
    ], [h('button', { class: 'button', type: 'button', onClick: close }, t('settings.done'))], 'invite-dialog');
  },
};

function NoticeDialog() {
  const n = room.notice;
  return h('div', { class: 'modal is-active room-dialog', id: 'invite-notice', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'invite-notice-title' }, [
    h('div', { class: 'modal-background', onClick: () => { room.notice = null; } }),
    h('div', { class: 'modal-card' }, [
      h('header', { class: 'modal-card-head' }, [
        h('span', { class: 'has-text-danger mr-2' }, icon('alert')),
        h('p', { class: 'modal-card-title', id: 'invite-notice-title' }, n.title),
      ]),
      h('section', { class: 'modal-card-body' }, h('p', { id: 'invite-notice-text' }, n.text)),
      h('footer', { class: 'modal-card-foot buttons is-right' }, h('button', { class: 'button is-primary', onClick: () => { room.notice = null; } }, t('action.ok'))),
    ]),
  ]);
}

// RoomOverlays holds the member panel and the room's dialogs; Escape
// closes the one on top.
export const RoomOverlays = {
  setup() {
    const onKey = (e) => {
      if (e.key !== 'Escape') return;
      if (room.dialog) { close(); e.preventDefault(); } else if (room.notice) { room.notice = null; } else if (room.panel) room.panel = null;
    };
    onMounted(() => window.addEventListener('keydown', onKey));
    onBeforeUnmount(() => window.removeEventListener('keydown', onKey));
    // The panel follows the chat in front.
    watch(() => state.active, (id) => { if (room.panel && room.panel !== id) room.panel = id || null; });
    // A chat's panel and dialogs show while its view is open: a chat left,
    // removed from or deleted closes them.
    const open = (id) => !!(id && chatById(id) && state.views[id]);
    return () => {
      const d = room.dialog;
      const shown = open(room.panel);
      return [
        shown ? h('div', { class: 'member-backdrop', onClick: () => { room.panel = null; } }) : null,
        shown ? h(MemberPanel, { chatId: room.panel, key: room.panel }) : null,
        d && d.kind === 'confirm' ? h(ConfirmDialog, { key: 'confirm' + d.title }) : null,
        d && d.kind === 'settings' && open(d.chatId) ? h(SettingsDialog, { chatId: d.chatId, key: 's' + d.chatId }) : null,
        d && d.kind === 'invite' && open(d.chatId) ? h(InviteDialog, { chatId: d.chatId, key: 'i' + d.chatId }) : null,
        d && d.kind === 'integrations' && open(d.chatId) ? h(IntegrationsDialog, { chatId: d.chatId, key: 'w' + d.chatId }) : null,
        room.notice ? NoticeDialog() : null,
      ];
    };
  },
};

// ---------- banned ----------

export const Banned = {
  setup() {
    return () => h('main', { class: 'center-screen' }, h('div', { class: 'box banned-box', id: 'banned', role: 'alert' }, [
      h('div', { class: 'brand-large has-text-danger' }, [icon('shield', { size: 32 }), h('h1', { class: 'title is-4' }, t('banned.title'))]),
      h('p', t('banned.body')),
      h('p', { class: 'is-size-7 has-text-grey mt-3' }, t('banned.mistake')),
    ]));
  },
};

// ---------- invite links ----------

// startRooms takes the token of an invite link the page was opened at
// (kept for the tab's session, so it survives signing in first) and uses
// it once the app is ready.
export function startRooms() {
  const m = location.pathname.match(/^\/invite\/([^/]+)$/);
  if (m) {
    pendingInvite = decodeURIComponent(m[1]);
    try { sessionStorage.setItem(INVITE_KEY, pendingInvite); } catch { /* storage disabled: kept in memory */ }
    history.replaceState(null, '', '/');
  } else {
    try { pendingInvite = sessionStorage.getItem(INVITE_KEY) || ''; } catch { /* none */ }
  }
  watch(() => state.phase, (p) => { if (p === 'ready') acceptPendingInvite(); }, { immediate: true });
}

async function acceptPendingInvite() {
  const token = pendingInvite;
  if (!token) return;
  pendingInvite = '';
  try { sessionStorage.removeItem(INVITE_KEY); } catch { /* none */ }
  try {
    const c = await roomApi.acceptInvite(token);
    state.chats[c.id] = { ...(state.chats[c.id] || {}), ...c, joined: true };
    await openChat(c.id, { focus: true });
    toast(t('toast.joined', { name: c.name }), { kind: 'success', icon: 'users' });
  } catch (err) {
    room.notice = { title: t('invite.cannot'), text: inviteErrorText(err) };
  }
}

// inviteErrorText says why an invite link failed, in words.
function inviteErrorText(err) {
  const why = String((err && err.message) || '').toLowerCase();
  const ask = ' ' + t('invite.ask');
  if (err && err.status === 404) return t('invite.invalid') + ask;
  if (err && err.status === 410) {
    for (const k of ['revoked', 'expired', 'used']) if (why.includes(k)) return t('invite.' + k) + ask;
    return t('invite.gone') + ask;
  }
  return t('invite.failed', { error: errorText(err) });
}
