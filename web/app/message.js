// The message list of a chat and what one does with a message: reply,
// react, edit, delete; the "New messages" line and exact read markers; the
// reply quote that jumps to the original; drafts; @-autocomplete. Message
// text is rendered by markdown.js as text nodes, never as HTML.
import { h, reactive, nextTick } from '/vendor/vue.runtime.esm-browser.prod.js';
import { state, outbox, markRead, sendEvent, errorText, toast, chatById, addHistoryMessage } from './store.js';
import { api } from './api.js';
import { render, toText } from './markdown.js';
import { icon } from './icons.js';
import { renderAttachments } from './attach.js';
import { botBadge } from './integrations.js';
import { shortTime, fullTime, dayLabel, initials, hue, linkify } from './text.js';
import { t } from './i18n.js';

const GROUP_GAP_MS = 5 * 60 * 1000;
const QUICK_DEFAULT = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
const ALL_EMOJI = ('😀 😃 😄 😁 😆 😅 🤣 😂 🙂 🙃 😉 😊 😇 🥰 😍 🤩 😘 😋 😛 😜 🤪 🤔 🤨 😐 😑 😶 🙄 😏 😬 😌 😔 😪 😴 😷 🤒 🤯 🥳 😎 🤓 😕 😟 😮 😲 😳 🥺 😢 😭 😱 😤 😡 🤬 💀 💩 🤡 👻 👽 🤖 ' +
  '👍 👎 👌 ✌️ 🤞 🤟 🤘 👈 👉 👆 👇 ✋ 👋 👏 🙌 🙏 💪 🤝 ✍️ 👀 🧠 ' +
  '❤️ 🧡 💛 💚 💙 💜 🖤 🤍 💔 💯 💥 💫 ✨ 🔥 ⭐ 🌟 ⚡ 🎉 🎊 🎁 🏆 ✅ ❌ ⚠️ ❓ ❗ 💡 📌 🚀 ☕ 🍕 🍺 🌈 ☀️ 🌧️').split(' ');
const QUICK_KEY = 'chatr.reactions';

// ui is what the message list shows beside the messages: which message has
// its tools, picker, editor or delete confirmation open.
export const ui = reactive({ tools: null, picker: null, pickerFull: false, editing: null, editText: '', confirm: null, flash: null });

export function avatar(user, size = 'm') {
  const id = user.userId || user.fromUserId || '';
  const name = user.userName || user.fromUserName || '?';
  const text = initials(name);
  return h('span', {
    class: ['avatar', 'avatar-' + size, /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(text) ? 'is-emoji' : ''], 'aria-hidden': 'true',
    style: { backgroundColor: `hsl(${hue(id)} 55% 30%)` }, // white initials at 4.5:1 or more
  }, text);
}

// ---------- state changes ----------

// messageFields are what a message item keeps of a stored message beside
// its id, sender and time.
export function messageFields(m) {
  return {
    replyTo: Number(m.replyTo) || 0,
    mentions: (m.mentions && Array.isArray(m.mentions.users)) ? m.mentions.users : [],
    mentionsAll: !!(m.mentions && m.mentions.all), // @all: every member
    edited: m.edited || '',
    deleted: !!m.deleted,
    reactions: Array.isArray(m.reactions) ? m.reactions : [],
  };
}

function item(chatId, id) {
  const v = state.views[chatId];
  if (!v) return null;
  return v.items.find((x) => x.kind === 'msg' && x.id === id) || null;
}

// applyMessageEvent applies messageEdited, messageDeleted, reactionChanged
// and chatRead; it returns false for other events.
export function applyMessageEvent(ev, d) {
  if (!d || typeof d !== 'object' || typeof d.chatId !== 'string') return false;
  const id = Number(d.id);
  switch (ev) {
    case 'messageEdited': {
      const it = item(d.chatId, id);
      if (it && !it.deleted) Object.assign(it, { message: String(d.message ?? ''), edited: d.edited || '', mentions: (d.mentions && d.mentions.users) || [] });
      return true;
    }
    case 'messageDeleted': {
      const it = item(d.chatId, id);
      if (it) {
        const wasUnread = !it.deleted && isUnread(state.views[d.chatId], it);
        Object.assign(it, { message: '', deleted: true, reactions: [], mentions: [] });
        if (wasUnread && state.unread[d.chatId] > 0) state.unread[d.chatId]--;
      }
      if (ui.editing === d.chatId + '/' + id) ui.editing = null;
      return true;
    }
    case 'reactionChanged': {
      const it = item(d.chatId, id);
      if (it && !it.deleted) it.reactions = Array.isArray(d.reactions) ? d.reactions : [];
      return true;
    }
    case 'chatRead': {
      // The chat was read up to messageId, here or on another device; the
      // server counts what is left (this page knows only what it loaded).
      const v = state.views[d.chatId];
      const upTo = Number(d.messageId) || 0;
      // A marker of this page that is newer brings its own counts.
      const stale = !!v && Math.max(v.readUpTo || 0, v.lastReadSent || 0) > upTo;
      if (v) v.readUpTo = Math.max(v.readUpTo || 0, upTo);
      if (stale) return true;
      if (Number.isInteger(d.unread)) {
        state.unread[d.chatId] = Math.max(0, d.unread);
        state.mentions[d.chatId] = Math.max(0, Number(d.mentions) || 0);
      } else {
        // A server that does not count: what is loaded here.
        state.unread[d.chatId] = v ? unreadIn(v) : 0;
        state.mentions[d.chatId] = v ? mentionsIn(v) : 0;
      }
      return true;
    }
    default:
      return false;
  }
}

function mine(it) {
  return state.me && it.fromUserId === state.me.userId;
}

function isUnread(v, it) {
  return v && it.kind === 'msg' && !mine(it) && !it.deleted && it.id > (v.readUpTo || 0);
}

function unreadIn(v) {
  return v.items.filter((it) => isUnread(v, it)).length;
}

function mentionsIn(v) {
  return v.items.filter((it) => isUnread(v, it) && mentionsMe(it)).length;
}

// mentionsMe: only the server's list counts, never a name in the text.
export function mentionsMe(it) {
  return !!state.me && it.fromUserId !== state.me.userId && (it.mentionsAll || (Array.isArray(it.mentions) && it.mentions.includes(state.me.userId)));
}

// readUpTo returns the id of the last message of the list that is on
// screen (its bottom edge inside the list's box), 0 when none.
export function visibleUpTo(scroller) {
  if (!scroller) return 0;
  const box = scroller.getBoundingClientRect();
  let best = 0;
  for (const el of scroller.querySelectorAll('.msg[data-id]')) {
    const r = el.getBoundingClientRect();
    if (r.top < box.bottom - 4 && r.bottom <= box.bottom + 4 && r.bottom > box.top) best = Math.max(best, Number(el.dataset.id));
  }
  return best;
}

// noteRead records what the reader has seen of the chat and sends the
// marker when it moved.
export function noteRead(chatId, scroller) {
  const v = state.views[chatId];
  if (!v || state.hidden || state.active !== chatId) return;
  const upTo = visibleUpTo(scroller);
  if (upTo > (v.readUpTo || 0)) {
    v.readUpTo = upTo;
    state.unread[chatId] = unreadIn(v);
    if (state.mentions) state.mentions[chatId] = mentionsIn(v);
    markRead(chatId, upTo);
  }
}

// ---------- actions ----------

function key(chatId, id) {
  return chatId + '/' + id;
}

async function act(what, name, data) {
  try {
    await sendEvent(name, data);
    return true;
  } catch (err) {
    toast(t('msg.failed', { what: t(what), error: errorText(err) }), { kind: 'danger' });
    return false;
  }
}

function quickEmoji() {
  let counts = {};
  try { counts = JSON.parse(localStorage.getItem(QUICK_KEY)) || {}; } catch { /* none */ }
  const used = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([e]) => e).filter((e) => ALL_EMOJI.includes(e));
  return [...new Set([...used, ...QUICK_DEFAULT])].slice(0, 6);
}

function countEmoji(e) {
  try {
    const counts = JSON.parse(localStorage.getItem(QUICK_KEY)) || {};
    counts[e] = (counts[e] || 0) + 1;
    localStorage.setItem(QUICK_KEY, JSON.stringify(counts));
  } catch { /* storage disabled */ }
}

function reacted(it, e) {
  const r = it.reactions.find((x) => x.emoji === e);
  return !!(r && state.me && (r.users || []).includes(state.me.userId));
}

export async function react(chatId, it, e) {
  ui.picker = null;
  const on = !reacted(it, e);
  if (on) countEmoji(e);
  await act('msg.doReact', 'react', { chatId, id: it.id, emoji: e, on });
}

function startEdit(chatId, it) {
  ui.editing = key(chatId, it.id);
  ui.editText = it.message;
  ui.tools = null;
  nextTick(() => {
    const el = document.querySelector('.msg-edit textarea');
    if (el) { el.focus(); el.setSelectionRange(el.value.length, el.value.length); }
  });
}

async function saveEdit(chatId, it) {
  const text = ui.editText.trim();
  if (!text) { ui.confirm = key(chatId, it.id); return; }
  if (text !== it.message && !(await act('msg.doEdit', 'editMessage', { chatId, id: it.id, message: text }))) return;
  ui.editing = null;
}

async function remove(chatId, it) {
  ui.confirm = null;
  await act('msg.doDelete', 'deleteMessage', { chatId, id: it.id });
}

export function canModerate(chatId) {
  const c = chatById(chatId);
  if (state.me && state.me.admin) return true;
  return !!c && (c.role === 'owner' || c.role === 'moderator' || (c.owner && state.me && c.owner === state.me.userId));
}

export function startReply(chatId, it) {
  const v = state.views[chatId];
  if (!v) return;
  v.replyTo = it.id;
  ui.tools = null;
  nextTick(() => { const el = document.getElementById('composer-input'); if (el) el.focus(); });
}

// jumpTo shows message id: scrolled to and flashed when loaded, else
// after loading the history around it.
export async function jumpTo(chatId, id) {
  const v = state.views[chatId];
  if (!v) return;
  if (!v.seen.has(id)) {
    try {
      const r = await api.messages(chatId, { around: id, limit: 50 });
      v.items.splice(0, v.items.length);
      v.seen.clear();
      for (const m of r.messages || []) addHistoryMessage(v, m);
      v.hasMore = !!r.hasMore;
      v.hasNewer = !!r.hasNewer;
    } catch (err) {
      toast(t('msg.loadFailed', { error: errorText(err) }), { kind: 'danger' });
      return;
    }
  }
  v.stick = false;
  await nextTick();
  const el = document.querySelector(`.chat-view[data-chat-id="${CSS.escape(chatId)}"] .msg[data-id="${id}"]`);
  if (!el) { toast(t('msg.gone'), { kind: 'warning' }); return; }
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
  ui.flash = key(chatId, id);
  setTimeout(() => { if (ui.flash === key(chatId, id)) ui.flash = null; }, 2000);
}

// ---------- drafts ----------

function draftsKey() {
  return 'chatr.drafts.' + (state.me ? state.me.userId : '');
}

function drafts() {
  try { return JSON.parse(localStorage.getItem(draftsKey())) || {}; } catch { return {}; }
}

export function loadDraft(chatId) {
  const d = drafts()[chatId];
  return typeof d === 'string' ? d : '';
}

// saveDraft keeps the composer's text per chat, across chat switches,
// reloads and closed tabs.
export function saveDraft(chatId, text) {
  const all = drafts();
  if (text) all[chatId] = text;
  else delete all[chatId];
  try { localStorage.setItem(draftsKey(), JSON.stringify(all)); } catch { /* storage disabled */ }
}

// ---------- rendering ----------

// renderMessages returns the list items of a chat's messages, its pending
// messages and the "New messages" line.
export function renderMessages(v, chatId) {
  const out = [];
  let prev = null;
  let prevDay = '';
  let lineDrawn = false;
  const byId = new Map();
  for (const it of v.items) if (it.kind === 'msg') byId.set(it.id, it);
  for (const it of v.items) {
    const day = dayLabel(it.time);
    if (day && day !== prevDay) {
      out.push(h('li', { key: 'd' + (it.key || it.id), class: 'day-sep' }, h('span', day)));
      prevDay = day;
      prev = null;
    }
    if (it.kind === 'note') {
      out.push(h('li', { key: it.key, class: 'note' }, h('span', it.text)));
      prev = null;
      continue;
    }
    if (!lineDrawn && v.newLineAfter !== null && v.newLineAfter !== undefined && it.id > v.newLineAfter && !mine(it) && !it.deleted) {
      lineDrawn = true;
      out.push(h('li', { key: 'new-line', class: 'new-line' }, h('span', t('msg.newMessages'))));
      prev = null;
    }
    const cont = prev && prev.fromUserId === it.fromUserId && (new Date(it.time) - new Date(prev.time)) < GROUP_GAP_MS && !it.replyTo;
    out.push(messageItem(chatId, it, cont, byId));
    prev = it;
  }
  return [...out, ...renderPending(chatId)];
}

function messageItem(chatId, it, cont, byId) {
  const own = mine(it);
  const k = key(chatId, it.id);
  const editing = ui.editing === k;
  return h('li', {
    key: it.id, tabindex: -1,
    class: ['msg', own ? 'is-mine' : 'is-theirs', cont ? 'is-cont' : '', mentionsMe(it) ? 'is-mention' : '', it.deleted ? 'is-deleted' : '',
      ui.flash === k ? 'is-flash' : '', ui.tools === k || ui.picker === k ? 'is-tools-open' : ''],
    'data-id': it.id, 'data-from': it.fromUserId,
    ...(it.deleted || editing ? {} : longPress(k)),
  }, [
    !own ? (cont ? h('span', { class: 'avatar-space' }) : avatar(it, 'm')) : null,
    h('div', { class: 'bubble' }, [
      !cont ? h('div', { class: 'msg-head' }, [
        h('span', { class: 'msg-sender' }, own ? t('msg.you') : it.fromUserName), botBadge(it),
        h('time', { class: 'msg-time', datetime: it.time, title: fullTime(it.time) }, shortTime(it.time)),
      ]) : null,
      it.replyTo ? replyQuote(chatId, it.replyTo, byId.get(it.replyTo)) : null,
      it.deleted ? h('div', { class: 'msg-text msg-deleted' }, [icon('trash', { size: 14 }), h('span', t('msg.deleted'))])
        : editing ? editor(chatId, it)
          : it.message ? h('div', { class: 'msg-text md' }, render(it.message)) : null,
      !it.deleted ? renderAttachments(it.files) : null,
      it.edited && !it.deleted && !editing ? h('span', { class: 'msg-edited', title: t('msg.editedAt', { time: fullTime(it.edited) }) }, t('msg.edited')) : null,
      it.reactions.length && !it.deleted ? reactionBar(chatId, it) : null,
      ui.confirm === k ? confirmBar(chatId, it) : null,
    ]),
    !it.deleted && !editing ? tools(chatId, it, k) : null,
  ]);
}

// longPress opens a message's actions when a finger rests on it for
// LONG_PRESS_MS without moving (on touch screens, where nothing hovers);
// the browser's own menu for that press is not shown.
const LONG_PRESS_MS = 500;
let press = null; // {timer, k, opened}
function longPress(k) {
  const end = () => { if (press && !press.opened) { clearTimeout(press.timer); press = null; } };
  return {
    onTouchstart: (e) => {
      if (press) clearTimeout(press.timer);
      if (e.touches.length !== 1 || e.target.closest('button, a, textarea, .emoji-picker')) { press = null; return; }
      press = { k, opened: false, timer: setTimeout(() => { press.opened = true; ui.tools = k; ui.picker = null; }, LONG_PRESS_MS) };
    },
    onTouchmove: end,
    onTouchcancel: end,
    onTouchend: (e) => {
      // The press that opened the menu is not also a tap on what is under it.
      if (press && press.opened && press.k === k && e.cancelable) e.preventDefault();
      end();
      if (press && press.opened) press = null;
    },
    onContextmenu: (e) => { if (press && press.opened) e.preventDefault(); },
  };
}

function replyQuote(chatId, id, orig) {
  const who = orig ? (mine(orig) ? t('msg.you') : orig.fromUserName) : '';
  const text = !orig ? t('msg.showOriginal') : orig.deleted ? t('msg.deleted') : toText(orig.message);
  return h('button', {
    class: 'reply-quote', type: 'button', 'data-reply-to': id,
    'aria-label': t('msg.replyingTo', { who: who || t('msg.aMessage'), text: text.slice(0, 80) }),
    onClick: () => jumpTo(chatId, id),
  }, [icon('arrowUp', { size: 12 }), who ? h('strong', who) : null, h('span', { class: 'reply-text' }, text.slice(0, 140))]);
}

function reactionBar(chatId, it) {
  return h('div', { class: 'reactions', role: 'group', 'aria-label': t('msg.reactions') }, it.reactions.map((r) => {
    const on = reacted(it, r.emoji);
    const names = (r.users || []).map((u) => (state.me && u === state.me.userId ? t('msg.you') : userName(chatId, u)));
    const more = r.count - names.length;
    const who = more > 0 ? t('msg.andMore', { names: names.join(', '), n: more }) : names.join(', ');
    return h('button', {
      class: ['reaction', on ? 'is-on' : ''], type: 'button', 'aria-pressed': String(on), title: t('msg.reactedWith', { who, emoji: r.emoji }),
      'aria-label': `${r.emoji} ${r.count}: ${who}`, 'data-emoji': r.emoji,
      onClick: () => react(chatId, it, r.emoji),
    }, [h('span', { class: 'reaction-emoji' }, r.emoji), h('span', { class: 'reaction-count' }, String(r.count))]);
  }));
}

function userName(chatId, userId) {
  const c = chatById(chatId);
  const m = c && c.members && c.members[userId];
  if (m && m.userName) return m.userName;
  const u = (state.people || {})[userId];
  return u ? u.userName : t('msg.someone');
}

function tools(chatId, it, k) {
  const own = mine(it);
  const open = ui.tools === k;
  const btn = (label, ic, onClick, cls) => h('button', { class: ['msg-tool', cls], type: 'button', title: label, 'aria-label': label, onClick }, icon(ic, { size: 15 }));
  return h('div', { class: 'msg-tools-wrap' }, [
    h('button', {
      class: 'msg-tool msg-more', type: 'button', 'aria-label': t('msg.actions'), 'aria-expanded': String(open),
      onClick: () => { ui.tools = open ? null : k; },
    }, '⋯'),
    h('div', { class: ['msg-tools', open ? 'is-open' : ''], role: 'toolbar', 'aria-label': t('msg.actions') }, [
      btn(t('msg.reply'), 'reply', () => startReply(chatId, it), 'tool-reply'),
      btn(t('msg.react'), 'smile', () => { ui.picker = ui.picker === k ? null : k; ui.pickerFull = false; }, 'tool-react'),
      own ? btn(t('msg.edit'), 'edit', () => startEdit(chatId, it), 'tool-edit') : null,
      own || canModerate(chatId) ? btn(t('msg.delete'), 'trash', () => { ui.confirm = k; ui.tools = null; }, 'tool-delete') : null,
    ]),
    ui.picker === k ? picker(chatId, it) : null,
  ]);
}

function picker(chatId, it) {
  const choose = (e) => h('button', {
    class: ['emoji-choice', reacted(it, e) ? 'is-on' : ''], type: 'button', 'aria-label': t('msg.reactWith', { emoji: e }), title: e,
    onClick: () => react(chatId, it, e),
  }, e);
  return h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': t('msg.pickReaction') }, [
    h('div', { class: 'emoji-quick' }, [...quickEmoji().map(choose),
      h('button', { class: 'emoji-choice emoji-more', type: 'button', 'aria-label': t('msg.moreEmoji'), 'aria-expanded': String(ui.pickerFull), onClick: () => { ui.pickerFull = !ui.pickerFull; } }, '+')]),
    ui.pickerFull ? h('div', { class: 'emoji-all' }, ALL_EMOJI.map(choose)) : null,
  ]);
}

function editor(chatId, it) {
  return h('form', { class: 'msg-edit', onSubmit: (e) => { e.preventDefault(); saveEdit(chatId, it); } }, [
    h('textarea', {
      class: 'textarea is-small', rows: 2, value: ui.editText, 'aria-label': t('msg.editLabel'),
      onInput: (e) => { ui.editText = e.target.value; },
      onKeydown: (e) => {
        if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); ui.editing = null; }
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); saveEdit(chatId, it); }
      },
    }),
    h('div', { class: 'buttons are-small' }, [
      h('button', { class: 'button is-small is-primary edit-save', type: 'submit' }, t('action.save')),
      h('button', { class: 'button is-small is-text', type: 'button', onClick: () => { ui.editing = null; } }, t('action.cancel')),
    ]),
  ]);
}

function confirmBar(chatId, it) {
  return h('div', { class: 'msg-confirm', role: 'alertdialog', 'aria-label': t('msg.deleteQ') }, [
    h('span', mine(it) ? t('msg.deleteMine') : t('msg.deleteTheirs', { name: it.fromUserName })),
    h('button', { class: 'button is-small is-danger confirm-delete-message', type: 'button', onClick: () => remove(chatId, it) }, t('action.delete')),
    h('button', { class: 'button is-small is-text', type: 'button', onClick: () => { ui.confirm = null; } }, t('action.cancel')),
  ]);
}

// renderPending shows the outbox's messages for this chat after the
// stored ones, marked as not yet sent.
function renderPending(chatId) {
  return outbox.forChat(chatId).map((e) => h('li', {
    key: 'p' + e.clientId, class: ['msg', 'is-mine', 'is-pending', e.status === 'failed' ? 'is-failed' : ''], 'data-client-id': e.clientId,
  }, h('div', { class: 'bubble' }, [
    h('div', { class: 'msg-head' }, [
      h('span', { class: 'msg-sender' }, t('msg.you')),
      h('span', { class: 'msg-status' }, e.status === 'failed' ? t('chat.notSent', { error: e.error })
        : state.conn === 'connected' ? t('msg.sending') : t('msg.waiting')),
    ]),
    e.text ? h('div', { class: 'msg-text' }, linkify(e.text)) : null,
    renderAttachments(e.files),
    e.status === 'failed' ? h('div', { class: 'buttons are-small msg-actions' }, [
      h('button', { class: 'button is-small', type: 'button', onClick: () => outbox.retry(e.clientId) }, t('action.retry')),
      h('button', { class: 'button is-small is-text', type: 'button', onClick: () => outbox.confirmed(e.clientId) }, t('action.discard')),
    ]) : null,
  ])));
}

// ---------- the composer's additions ----------

// composerBar shows, above the composer, the message being replied to and
// the @-autocomplete.
export function composerBar(v, chatId) {
  const orig = v.replyTo ? item(chatId, v.replyTo) : null;
  return [
    v.replyTo ? h('div', { class: 'reply-bar', role: 'status' }, [
      icon('reply', { size: 14 }),
      h('span', [t('msg.replyBar', { who: '' }), h('strong', orig ? (mine(orig) ? t('msg.yourself') : orig.fromUserName) : t('msg.aMessage')), orig ? ': ' + toText(orig.message).slice(0, 100) : '']),
      h('button', { class: 'delete is-small', type: 'button', 'aria-label': t('msg.cancelReply'), onClick: () => { v.replyTo = 0; } }),
    ]) : null,
    complete.chatId === chatId && complete.list.length ? h('ul', { class: 'mention-list', role: 'listbox', id: 'mention-list', 'aria-label': t('msg.mention') },
      complete.list.map((m, i) => h('li', {
        key: m.userId, role: 'option', 'aria-selected': String(i === complete.index), class: ['mention-option', i === complete.index ? 'is-selected' : ''],
        onMousedown: (e) => { e.preventDefault(); pick(v, i); },
      }, [avatar(m, 's'), h('span', { class: 'mention-name' }, m.userName), h('span', { class: 'mention-handle' }, '@' + m.handle)]))) : null,
  ];
}

const complete = reactive({ chatId: null, list: [], index: 0, from: 0, to: 0 });
const memberCache = {};

// autocomplete looks at the word before the caret: "@al" offers the
// members whose handle or name starts with "al".
export async function autocomplete(v, chatId, el) {
  const before = el.value.slice(0, el.selectionStart);
  const m = before.match(/(^|\s)@([\p{L}\p{N}_-]{0,30})$/u);
  if (!m) { complete.list = []; return; }
  const q = m[2].toLowerCase();
  if (!memberCache[chatId]) {
    memberCache[chatId] = api.members(chatId).catch(() => []);
    setTimeout(() => { delete memberCache[chatId]; }, 60000);
  }
  const members = await memberCache[chatId];
  complete.chatId = chatId;
  complete.from = before.length - m[2].length - 1;
  complete.to = before.length;
  const people = members.filter((x) => x.handle && (!state.me || x.userId !== state.me.userId) &&
    (x.handle.startsWith(q) || String(x.userName || '').toLowerCase().startsWith(q))).slice(0, 6);
  complete.list = [...people, ...specialMentions(chatId, members.length).filter((x) => x.handle.startsWith(q))];
  complete.index = 0;
}

// specialMentions are @here and @all, the latter only where the caller may
// use it: in a chat of at most mentionAllMax members (/api/config), or as
// its owner, a moderator or an admin (the server refuses it otherwise).
function specialMentions(chatId, memberCount) {
  const max = Number(state.config.mentionAllMax) || 50;
  const out = [{ userId: '@here', handle: 'here', userName: t('msg.everyoneOnline') }];
  if (memberCount <= max || canModerate(chatId)) out.push({ userId: '@all', handle: 'all', userName: t('msg.everyone') });
  return out;
}

function pick(v, i) {
  const m = complete.list[i];
  if (!m) return;
  v.draft = v.draft.slice(0, complete.from) + '@' + m.handle + ' ' + v.draft.slice(complete.to);
  const caret = complete.from + m.handle.length + 2;
  complete.list = [];
  nextTick(() => { const el = document.getElementById('composer-input'); if (el) { el.focus(); el.setSelectionRange(caret, caret); } });
}

// completeKey handles the composer's keys while the list is open; it
// returns true for a key it used.
export function completeKey(v, chatId, e) {
  if (complete.chatId !== chatId || !complete.list.length) return false;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    const n = complete.list.length;
    complete.index = (complete.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
  } else if (e.key === 'Enter' || e.key === 'Tab') {
    pick(v, complete.index);
  } else if (e.key === 'Escape') {
    complete.list = [];
  } else {
    return false;
  }
  e.preventDefault();
  return true;
}

// scrollToNewLine puts the "New messages" line at the top of the list
// once, when the chat opens with unread messages; it reports whether it did.
export function scrollToNewLine(v, scroller) {
  if (!v.openAtLine || !scroller) return false;
  const line = scroller.querySelector('.new-line');
  if (!line) return false;
  v.openAtLine = false;
  scroller.scrollTop += line.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
  v.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
  return true;
}
