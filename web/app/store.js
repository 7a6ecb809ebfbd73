// The client's state and everything that changes it: sign-in, the hub
// connection, chat events, history, unread counts, idle detection and
// notifications. Components only read this state and call these functions.
import { reactive, markRaw, watch } from '/vendor/vue.runtime.esm-browser.prod.js';
import { api, logoutUrl } from './api.js';
import { HubClient } from './hubclient.js';
import { unescapeAnnouncement } from './text.js';
import { Outbox } from './outbox.js';
import { applyMessageEvent, messageFields, loadDraft, saveDraft } from './message.js';
import { forgetOfflineData, unreachable, whenReachable } from './offline.js';
import { t } from './i18n.js';
import { loadSettings, notable, playSound } from './settings.js';

const PAGE = 50;          // messages per history page
const TYPING_SHOW_MS = 6000;
const TYPING_SEND_MS = 3000;
const TOAST_MS = 6000;

export const state = reactive({
  phase: 'boot',          // boot | signin | loading | ready | error | banned
  error: '',
  steps: [],
  providers: [],
  guest: true,
  maxNameLength: 32, // the server's default; /.auth/providers says
  signinError: new URLSearchParams(location.search).get('signin_error') || '',
  me: null,               // {userId, userName, handle, provider, admin}
  config: { idleTimeoutSeconds: 60, maxMessageBytes: 4096, maxChatNameLength: 64 },
  chats: {},              // group chats by id: public ones and the caller's private ones, each with joined
  privateChats: {},       // the caller's direct messages and group DMs by id
  people: {},             // users this page has seen, by id: {userId, userName, handle, online, idle, lastSeen}
  unread: {},             // chatId -> count
  mentions: {},           // chatId -> unread messages that mention the caller
  page: null,             // null (the chat in front) | 'people' | 'browse'
  menu: null,             // the chat id whose sidebar menu is open
  tabs: [],               // open chat ids, in tab order
  views: {},              // chatId -> view (messages, paging, typing)
  active: null,           // chatId of the tab in front
  conn: 'stopped',        // connecting | connected | reconnecting | stopped
  idle: false,
  notify: typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  toasts: [],
  sidebarOpen: false,
  modal: null,            // {kind: 'create' | 'groupdm' | 'rename'} | {kind: 'delete' | 'leave', chatId}
  hidden: document.hidden,
  offline: false,         // started without the server: read-only, on what the service worker kept
  netOffline: navigator.onLine === false, // the browser knows it has no network
});

let client = null;
let toastSeq = 0;
let selfOnline = null;    // resolves when the hub announces our own userOnline
let lastActivity = Date.now();
let lastTypingSent = {};
let rejoined = false;     // the connection is up and the open chats joined again: the outbox may send

// outbox holds the messages written but not yet stored by the server.
export const outbox = new Outbox();

// ---------- helpers ----------

export function chatById(id) {
  return state.chats[id] || state.privateChats[id] || null;
}

// isPrivate tells a direct message or group DM ("private_" and "dm_" ids
// are the server's) from a group chat.
export function isPrivate(id) {
  const s = String(id);
  return s.startsWith('private_') || s.startsWith('dm_') || !!(state.privateChats[id]);
}

export function isGroupDM(id) {
  return String(id).startsWith('dm_');
}

// chatName names a chat; a DM or group DM is named after the others in it.
export function chatName(id) {
  const c = chatById(id);
  if (c && isPrivate(id)) {
    const others = partners(c).map((m) => personName(m.userId, m.userName));
    if (others.length) return others.join(', ');
  }
  if (c) return c.name;
  return isPrivate(id) ? t('chat.private') : t('chat.chat');
}

// partners lists the members of a chat other than the caller.
export function partners(c) {
  const me = state.me && state.me.userId;
  return Object.values((c && c.members) || {}).filter((m) => m.userId !== me);
}

// directMembers makes the member list of a DM from its id
// ("private_<a>_<b>", the two ids in order) and its name ("Chat with X"),
// for an event that does not list the members.
function directMembers(id, name) {
  const me = state.me.userId;
  const rest = String(id).slice('private_'.length);
  let other = '';
  if (rest.startsWith(me + '_')) other = rest.slice(me.length + 1);
  else if (rest.endsWith('_' + me)) other = rest.slice(0, -me.length - 1);
  if (!other) return {};
  return {
    [me]: { userId: me, userName: state.me.userName },
    [other]: { userId: other, userName: personName(other, String(name || '').replace(/^Chat with /, '')) },
  };
}

// personName is the current name of a user: a rename seen on this page wins
// over the name a chat or message was stored with.
export function personName(userId, fallback) {
  const p = state.people[userId];
  return (p && p.userName) || fallback || t('chat.someone');
}

// isJoined tells whether the caller is a member of a group chat (servers
// before the rooms API did not send joined: the member list tells).
export function isJoined(c) {
  if (!c) return false;
  if (typeof c.joined === 'boolean') return c.joined;
  return !!(c.members && state.me && c.members[state.me.userId]);
}

export function totalUnread() {
  return Object.values(state.unread).reduce((a, b) => a + (b || 0), 0);
}

export function toast(text, opts = {}) {
  const item = { id: ++toastSeq, text, kind: opts.kind || 'info', action: opts.action || null, icon: opts.icon || null };
  state.toasts.push(item);
  if (state.toasts.length > 5) state.toasts.splice(0, state.toasts.length - 5);
  setTimeout(() => dismissToast(item.id), opts.ms || TOAST_MS);
  return item;
}

export function dismissToast(id) {
  const i = state.toasts.findIndex((x) => x.id === id);
  if (i >= 0) state.toasts.splice(i, 1);
}

function parseJSON(s) {
  if (typeof s !== 'string') return s;
  try { return JSON.parse(s); } catch { return s; }
}

// notePerson merges what an event or a listing tells about a user.
function notePerson(u) {
  if (!u || !u.userId) return null;
  const p = state.people[u.userId] || (state.people[u.userId] = { userId: u.userId, online: false, idle: false });
  for (const k of ['userName', 'handle', 'userProvider', 'online', 'idle', 'lastSeen']) {
    if (u[k] !== undefined && u[k] !== null && u[k] !== '') p[k] = u[k];
  }
  return p;
}

// ---------- start-up ----------

// The start-up steps; each is shown with its text, t('loading.' + key).
const STEPS = ['auth', 'config', 'chats', 'token', 'connect', 'presence'];

function step(key, status) {
  const s = state.steps.find((x) => x.key === key);
  if (s) s.status = status;
}

export async function boot() {
  if (client) { client.stop(); client = null; } // "Try again" after a failed start
  state.phase = 'loading';
  state.steps = STEPS.map((key) => ({ key, status: 'pending' }));
  let current = 'auth';
  try {
    step('auth', 'active');
    const p = await api.me();
    if (!p) {
      await showSignIn();
      return;
    }
    state.me = { userId: p.userId, userName: p.userDetails, provider: p.identityProvider, handle: '', admin: false };
    loadSettings(p.userId);
    if (state.signinError) {
      // Signed in after all: the refusal is history.
      state.signinError = '';
      history.replaceState(null, '', location.pathname);
    }
    // The profile, the settings, the chats and the hub's token need only
    // the user: asked for at once, they cost one round trip, not four.
    current = null;
    const token = tracked('token', api.token(state.me.userId));
    token.catch(() => { /* awaited below */ });
    await Promise.all([
      tracked('auth', loadMe()),
      tracked('config', api.config().then((c) => { Object.assign(state.config, c); }, () => { /* defaults */ })),
      tracked('chats', loadChats(true)),
    ]);
    let first;
    try {
      first = (await token).url;
    } catch (err) {
      if (!unreachable(err)) throw err;
      startOffline();
      return;
    }

    current = 'connect'; step('connect', 'active');
    let gotSelf;
    selfOnline = new Promise((r) => { gotSelf = r; });
    selfOnline.resolve = gotSelf;
    client = markRaw(new HubClient(async () => {
      if (first) { const u = first; first = null; return hubUrl(u); }
      return hubUrl((await api.token(state.me.userId)).url);
    }));
    const opened = new Promise((r) => client.addEventListener('open', r, { once: true }));
    client.addEventListener('state', (e) => { state.conn = e.detail; if (e.detail !== 'connected') rejoined = false; });
    client.addEventListener('message', (e) => onFrame(e.detail));
    client.addEventListener('open', (e) => { if (state.phase === 'ready') onReopen(e.detail.fresh); });
    client.addEventListener('unauthorized', () => { location.reload(); });
    client.addEventListener('banned', () => { state.phase = 'banned'; });
    client.start();
    await withTimeout(opened, 30000, t('loading.noAnswer'));
    client.sendEvent('userConnected', { userName: state.me.userName, userProvider: state.me.provider }).catch(() => {});
    step('connect', 'done');

    current = 'presence'; step('presence', 'active');
    await withTimeout(selfOnline, 10000, '').catch(() => {});
    step('presence', 'done');

    state.phase = 'ready';
    watchUsers([]); // what the chats asked for before the connection was up
    startIdleDetection();
    restoreTabs();
    outbox.open(outboxKey(), sendEntry, () => rejoined && !!client && client.connected);
    rejoined = client.connected;
    outbox.flush();
  } catch (err) {
    if (current) step(current, 'error');
    if (err && err.status === 401) { await showSignIn(); return; }
    state.error = (err && err.message) || t('loading.wrong');
  }
}

// tracked shows a start-up step's progress while p runs.
function tracked(key, p) {
  step(key, 'active');
  return p.then((v) => { step(key, 'done'); return v; }, (err) => { step(key, 'error'); throw err; });
}

// startOffline shows, read-only, the chats and messages the service worker
// kept, when the server cannot be reached; once it can, the page starts
// again.
function startOffline() {
  state.offline = true;
  state.conn = 'stopped';
  state.phase = 'ready';
  restoreTabs();
  whenReachable(() => api.token(state.me.userId), () => location.reload());
}

// hubUrl declares, in the hub URL, that this client renders message text as
// text (the server then sends it as written; to clients that do not declare
// it, it sends text HTML-escaped) and reads batch frames (presence and
// membership changes come coalesced).
function hubUrl(url) {
  const u = new URL(url, location.href);
  u.searchParams.set('render', 'text');
  u.searchParams.set('batch', '1');
  return u.toString();
}

// loadMe reads the caller's handle and admin flag; a server without
// /api/me leaves them empty.
async function loadMe() {
  try {
    const m = await api.profile();
    Object.assign(state.me, { userName: m.userName || state.me.userName, handle: m.handle || '', admin: !!m.admin });
  } catch (err) {
    if (err && err.status === 401) throw err;
  }
  notePerson({ ...state.me, online: true });
}

function outboxKey() {
  return 'chatr.outbox.' + state.me.userId;
}

function withTimeout(p, ms, msg) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(msg)), ms))]);
}

async function showSignIn() {
  try {
    const p = await api.providers();
    state.providers = p.providers || [];
    state.guest = p.guest !== false;
    if (p.maxNameLength > 0) state.maxNameLength = p.maxNameLength;
  } catch {
    state.providers = [];
    state.guest = true;
  }
  state.phase = 'signin';
}

export async function signInAsGuest(name) {
  await api.guestLogin(name);
  await boot();
}

export function signOut() {
  if (client) client.stop();
  forgetOfflineData();
  try { localStorage.removeItem(tabsKey()); } catch { /* private mode */ }
  // What was never sent stays with whoever wrote it, not with this device.
  try { localStorage.removeItem(outboxKey()); } catch { /* private mode */ }
  location.href = logoutUrl;
}

async function loadChats(initial) {
  const c = await api.chats();
  state.chats = c.chats || {};
  state.privateChats = c.privateChats || {};
  for (const chat of [...Object.values(state.chats), ...Object.values(state.privateChats)]) {
    for (const m of Object.values(chat.members || {})) notePerson(m);
  }
  for (const [key, counts] of [['unread', c.unread], ['mentions', c.mentions]]) {
    if (!initial && !counts) continue;
    const u = counts || {};
    for (const id of Object.keys(state[key])) if (!(id in u) && !state.views[id]) delete state[key][id];
    for (const [id, n] of Object.entries(u)) {
      // A chat in front while the page is visible has been read here.
      if (id === state.active && !state.hidden) continue;
      state[key][id] = n;
    }
    state.mentions = { ...(c.mentions || {}) };
  }
  watchUsers(Object.values(state.privateChats).flatMap((chat) => partners(chat).map((m) => m.userId)));
}

// ---------- tabs and views ----------

function tabsKey() {
  return 'chatr.tabs.' + (state.me ? state.me.userId : '');
}

function saveTabs() {
  try {
    localStorage.setItem(tabsKey(), JSON.stringify({ tabs: state.tabs, active: state.active }));
  } catch { /* storage disabled */ }
}

function restoreTabs() {
  let saved = { tabs: [], active: null };
  try { saved = JSON.parse(localStorage.getItem(tabsKey())) || saved; } catch { /* none */ }
  // The sidebar lists every chat of the user: only the views that were
  // open come back as tabs.
  for (const id of saved.tabs || []) {
    if (canOpen(id)) openChat(id, { focus: false, quiet: true });
  }
  if (saved.active && state.views[saved.active]) activate(saved.active);
  else if (state.tabs.length) activate(state.tabs[0]);
}

function newView(chatId) {
  return {
    chatId,
    items: [],            // {kind:'msg', id, ...} | {kind:'note', key, text, time}
    seen: markRaw(new Set()),
    hasMore: false,
    loading: false,
    loadingOlder: false,
    loaded: false,
    error: '',
    typing: {},           // userId -> {name, until}
    draft: loadDraft(chatId),
    replyTo: 0,           // the message the composer answers
    readUpTo: 0,          // the read marker: the last message seen on screen
    newLineAfter: null,   // the marker when the chat opened: "New messages" goes below it
    openAtLine: false,    // scroll to that line once it is drawn
    hasNewer: false,      // a page around an older message is shown: newer ones are not loaded
    noteRead: null,       // set by the chat's view: records what is on screen as read
    stick: true,          // scrolled to the bottom: follow new messages
    newBelow: 0,          // messages that arrived while reading older ones
    scrollTop: null,
  };
}

// canOpen tells whether the caller may open a chat's view: a member only.
function canOpen(id) {
  return isPrivate(id) ? !!state.privateChats[id] : isJoined(state.chats[id]);
}

// openChat opens (or shows) the tab of a chat the caller is a member of.
// It never joins: joining is joinChat, from "Browse chats".
export async function openChat(chatId, { focus = true, quiet = false } = {}) {
  let view = state.views[chatId];
  if (!view) {
    state.views[chatId] = newView(chatId);
    view = state.views[chatId];
    state.tabs.push(chatId);
    if (state.unread[chatId] === undefined) state.unread[chatId] = 0;
    saveTabs();
  }
  if (focus) activate(chatId);
  if (view.loaded || view.loading) return;
  view.loading = true;
  view.error = '';
  try {
    await loadLatest(view);
    view.loaded = true;
  } catch (err) {
    view.error = errorText(err);
    if (!quiet) toast(t('toast.openFailed', { name: chatName(chatId), error: view.error }), { kind: 'danger' });
  } finally {
    view.loading = false;
  }
}

// joinChat makes the caller a member of a public chat and opens it.
export async function joinChat(chatId) {
  await client.sendEvent('joinChat', chatId, 'text');
  const c = state.chats[chatId];
  if (c) {
    c.joined = true;
    c.members = c.members || {};
    c.members[state.me.userId] = { userId: state.me.userId, userName: state.me.userName };
  }
  state.page = null;
  await openChat(chatId, { focus: true });
}

// leaveChat ends the caller's membership (the confirmation is the
// caller's): the chat's view closes, a private chat leaves the list.
export async function leaveChat(chatId) {
  await client.sendEvent('leaveChat', chatId, 'text');
  forgetMembership(chatId);
}

// forgetMembership closes the view of a chat the caller is no longer a
// member of and stops counting its messages.
function forgetMembership(chatId) {
  closeTab(chatId);
  delete state.unread[chatId];
  delete state.mentions[chatId];
  const c = state.chats[chatId];
  if (c && c.visibility === 'private') delete state.chats[chatId];
  else if (c) {
    c.joined = false;
    c.role = undefined;
    if (c.members) delete c.members[state.me.userId];
  }
  delete state.privateChats[chatId];
}

// confirmLeave asks whether to leave a chat (the room header's menu and the
// sidebar's call it).
export function confirmLeave(chatId) {
  state.menu = null;
  state.modal = { kind: 'leave', chatId };
}

// The list of public chats stays live only while "Browse chats" shows: the
// server then sends their creation and deletion to this connection, and
// the list is read again when the page opens (it may have changed while it
// was closed).
function browseChats(on) {
  if (client && client.connected) client.sendEvent('watchChats', { on }).catch(() => {});
  if (on) loadChats(false).catch(() => {});
}
watch(() => state.page === 'browse', (on) => browseChats(on));

export function showPage(page) {
  state.page = page;
  state.menu = null;
  state.sidebarOpen = false;
}

export function activate(chatId) {
  const view = state.views[chatId];
  if (!view) return;
  // Coming back to a chat with unread messages: the line goes above them.
  if (state.active !== chatId && (state.unread[chatId] || 0) > 0 && view.loaded) {
    if (view.hasNewer) {
      showLatest(chatId); // the newest page, with the line where the marker is
    } else {
      view.newLineAfter = view.readUpTo;
      view.openAtLine = true;
    }
  }
  state.page = null;
  state.active = chatId;
  state.sidebarOpen = false;
  saveTabs();
  markRead(chatId);
}

export function closeTab(chatId) {
  const i = state.tabs.indexOf(chatId);
  if (i < 0) return;
  state.tabs.splice(i, 1);
  delete state.views[chatId];
  // Closing a view is not leaving: the membership and its unread count stay.
  if (state.active === chatId) state.active = state.tabs[Math.min(i, state.tabs.length - 1)] || null;
  if (state.active) markRead(state.active);
  saveTabs();
}

function lastId(view) {
  for (let i = view.items.length - 1; i >= 0; i--) if (view.items[i].kind === 'msg') return view.items[i].id;
  return 0;
}

function firstId(view) {
  for (const it of view.items) if (it.kind === 'msg') return it.id;
  return 0;
}

async function loadLatest(view) {
  const r = await api.messages(view.chatId, { limit: PAGE });
  for (const m of r.messages || []) addMessage(view, m, { history: true });
  view.hasMore = !!r.hasMore;
  // A chat never read here before (a new member) opens at its newest
  // message; one read before opens at the first unread.
  if (typeof r.lastRead === 'number' && r.lastRead > 0) {
    view.readUpTo = Math.max(view.readUpTo, r.lastRead);
    view.newLineAfter = r.lastRead;
    const unread = view.items.some((it) => it.kind === 'msg' && it.id > r.lastRead && it.fromUserId !== state.me.userId && !it.deleted);
    view.openAtLine = unread;
    // Bring the first unread message in, up to a few pages back.
    for (let i = 0; unread && i < 4 && view.hasMore && firstId(view) > r.lastRead + 1; i++) {
      const older = await api.messages(view.chatId, { before: firstId(view), limit: 200 });
      for (const m of older.messages || []) addMessage(view, m, { history: true });
      view.hasMore = !!older.hasMore;
    }
  }
}

// showLatest leaves a page around an older message for the newest page.
export async function showLatest(chatId) {
  const view = state.views[chatId];
  if (!view) return;
  if (view.hasNewer) {
    view.items.splice(0, view.items.length);
    view.seen.clear();
    view.hasNewer = false;
    await loadLatest(view);
  }
  view.stick = true;
}

// loadNewer fetches the page after the newest message shown, when a page
// around an older message is shown.
export async function loadNewer(chatId) {
  const view = state.views[chatId];
  if (!view || !view.hasNewer || view.loadingNewer) return;
  view.loadingNewer = true;
  try {
    const r = await api.messages(chatId, { after: lastId(view), limit: PAGE });
    for (const m of r.messages || []) addMessage(view, m, { history: true });
    view.hasNewer = !!r.hasMore;
  } catch (err) {
    toast(t('toast.newerFailed', { error: errorText(err) }), { kind: 'danger' });
  } finally {
    view.loadingNewer = false;
  }
}

// loadOlder fetches the page before the oldest message shown.
export async function loadOlder(chatId) {
  const view = state.views[chatId];
  if (!view || view.loadingOlder || !view.hasMore) return false;
  view.loadingOlder = true;
  try {
    const r = await api.messages(chatId, { before: firstId(view), limit: PAGE });
    for (const m of r.messages || []) addMessage(view, m, { history: true });
    view.hasMore = !!r.hasMore;
    return true;
  } catch (err) {
    toast(t('toast.olderFailed', { error: errorText(err) }), { kind: 'danger' });
    return false;
  } finally {
    view.loadingOlder = false;
  }
}

// fillGap fetches every message after the newest one shown.
async function fillGap(view) {
  for (let guard = 0; guard < 50; guard++) {
    const after = lastId(view);
    if (!after) { await loadLatest(view); return; }
    const r = await api.messages(view.chatId, { after, limit: 200 });
    for (const m of r.messages || []) addMessage(view, m, { history: true });
    if (!r.hasMore || !(r.messages || []).length) return;
  }
}

// addMessage puts a message in id order, once. It returns false for a
// message already shown.
function addMessage(view, m, { history = false } = {}) {
  const id = Number(m.id);
  if (!id || view.seen.has(id)) return false;
  // Showing a page of older messages: the newest come with loadNewer.
  if (!history && view.hasNewer) { view.newBelow++; return false; }
  view.seen.add(id);
  if (typeof m.clientId === 'string' && state.me && m.fromUserId === state.me.userId) outbox.confirmed(m.clientId);
  const item = {
    kind: 'msg', id, fromUserId: m.fromUserId, fromUserName: m.fromUserName, bot: m.bot === true,
    message: String(m.message ?? ''), time: m.time || new Date().toISOString(), ...messageFields(m), files: Array.isArray(m.files) ? m.files : [],
  };
  const items = view.items;
  let at = items.length;
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i].kind === 'msg') {
      if (items[i].id < id) break;
      at = i;
    }
  }
  items.splice(at, 0, item);
  if (at < items.length - 1 && history) return true;
  if (!history && !view.stick && item.fromUserId !== (state.me && state.me.userId)) view.newBelow++;
  return true;
}

// addHistoryMessage puts a message from history in a view.
export function addHistoryMessage(view, m) {
  return addMessage(view, m, { history: true });
}

// ---------- the hub's frames ----------

function onFrame(f) {
  if (f.from === 'server') {
    const d = parseJSON(f.data);
    if (d && d.chatEvent) onChatEvent(d.chatEvent, parseJSON(d.data));
    // A batch (presence or membership changes coalesced by the server):
    // its items are applied in order, as if they had come one by one.
    if (d && typeof d.batch === 'string' && Array.isArray(d.items)) {
      for (const it of d.items) {
        const item = parseJSON(it);
        if (item && item.chatEvent) onChatEvent(item.chatEvent, parseJSON(item.data));
      }
    }
    return;
  }
  if (f.from === 'group' && f.group) onGroupMessage(f.group, f);
}

function onGroupMessage(chatId, f) {
  const d = f.data;
  if (d && typeof d === 'object' && d.message !== undefined && d.id !== undefined) {
    const mine = state.me && d.fromUserId === state.me.userId;
    if (mine && typeof d.clientId === 'string') outbox.confirmed(d.clientId);
    const pc = state.privateChats[chatId];
    if (pc) pc.lastMessageAt = d.time || new Date().toISOString();
    const view = state.views[chatId];
    if (!view) {
      // A chat without a view (a member's chat, its tab closed): counted
      // in the sidebar, read from history when opened.
      if (!mine) countUnread(chatId, d);
      return;
    }
    if (d.fromUserId && view.typing[d.fromUserId]) delete view.typing[d.fromUserId];
    // While older messages are shown, a new one is not added but unread.
    const beyond = view.hasNewer && !view.seen.has(Number(d.id));
    if (!addMessage(view, d) && !beyond) return;
    if (!mine) {
      // Unread until it is on screen (see markRead).
      countUnread(chatId, d);
      markRead(chatId);
    } else if (state.active === chatId) {
      view.stick = true;
      markRead(chatId);
    }
    return;
  }
  if (typeof d === 'string') {
    const view = state.views[chatId];
    if (!view) return;
    view.items.push({ kind: 'note', key: 'n' + (++toastSeq), text: announcementText(unescapeAnnouncement(d)), time: new Date().toISOString() });
  }
}

// The server's announcements are in English (the original client shows
// them as they come): the ones it sends are said again in the app's language.
const ANNOUNCEMENTS = [
  [/^💬 (.+) has joined the chat$/su, '💬 ', 'note.joined'],
  [/^💨 (.+) has left the chat$/su, '💨 ', 'note.left'],
  [/^💬 (.+) wants to chat$/su, '💬 ', 'note.wantsToChat'],
];

function announcementText(s) {
  for (const [re, mark, key] of ANNOUNCEMENTS) {
    const m = s.match(re);
    if (m) return mark + t(key, { name: m[1] });
  }
  return s;
}

// mentionsMe tells whether a message as delivered mentions the caller: the
// server's list (which @here fills) or @all; a name in the text is not one.
function mentionsMe(m) {
  const men = m.mentions;
  return !!men && !!state.me && (men.all === true || (Array.isArray(men.users) && men.users.includes(state.me.userId)));
}

function countUnread(chatId, m) {
  state.unread[chatId] = (state.unread[chatId] || 0) + 1;
  // Only the server's mentions count: a name in the text is not one.
  if (mentionsMe(m)) state.mentions[chatId] = (state.mentions[chatId] || 0) + 1;
  maybeNotify(chatId, m);
}

function onChatEvent(ev, d) {
  const me = state.me && state.me.userId;
  switch (ev) {
    case 'chatCreated':
      if (d && d.id) state.chats[d.id] = { ...d, joined: isJoined(d) || d.owner === me };
      break;
    case 'chatUpdated':
      if (d && d.id) chatChanged(d);
      break;
    case 'chatDeleted': {
      const c = state.chats[d];
      delete state.chats[d];
      if (state.views[d]) {
        closeTab(d);
        toast(t('toast.deleted', { name: c ? c.name : t('toast.aChat') }), { kind: 'warning' });
      }
      delete state.unread[d];
      delete state.mentions[d];
      break;
    }
    case 'addedToChat':
      if (!d || !d.id) break;
      state.chats[d.id] = { ...d, joined: true };
      for (const m of Object.values(d.members || {})) notePerson(m);
      toast(t('toast.added', { name: d.name }), {
        kind: 'info', icon: 'hash', ms: 10000, action: { label: t('action.open'), run: () => openChat(d.id, { focus: true }) },
      });
      break;
    case 'removedFromChat': {
      const id = d && d.chatId;
      if (!id || !chatById(id)) break;
      const name = chatName(id);
      forgetMembership(id);
      toast(t('toast.removed', { name }), { kind: 'warning' });
      break;
    }
    case 'userOnline':
      if (!d || !d.userId) break;
      notePerson({ ...d, online: true, idle: !!d.idle });
      if (d.userId === me && selfOnline) selfOnline.resolve();
      break;
    case 'userOffline':
      // Another tab of ours closing does not make us offline here.
      if (typeof d !== 'string' || d === me || !state.people[d]) break;
      Object.assign(state.people[d], { online: false, idle: false, lastSeen: new Date().toISOString() });
      break;
    case 'userIsIdle':
    case 'userNotIdle':
      if (typeof d === 'string' && state.people[d]) Object.assign(state.people[d], { idle: ev === 'userIsIdle', online: true });
      break;
    case 'userRenamed':
      if (!d || !d.userId) break;
      notePerson(d);
      for (const c of [...Object.values(state.chats), ...Object.values(state.privateChats)]) {
        if (c.members && c.members[d.userId]) c.members[d.userId].userName = d.userName;
      }
      if (d.userId === me) state.me.userName = d.userName;
      break;
    case 'joinPrivateChat': {
      if (!d || !d.id) break;
      const known = state.privateChats[d.id];
      let members = d.members && typeof d.members === 'object' ? membersOf(d.members) : (known && known.members) || {};
      if (!Object.keys(members).length && !isGroupDM(d.id)) members = directMembers(d.id, d.name);
      for (const m of Object.values(members)) notePerson(m);
      state.privateChats[d.id] = {
        ...(known || {}), id: d.id, name: d.name, private: true, members,
        kind: isGroupDM(d.id) ? 'groupdm' : 'direct', lastMessageAt: (known && known.lastMessageAt) || new Date().toISOString(),
      };
      watchUsers(Object.keys(members).filter((id) => id !== me));
      const open = !!state.views[d.id];
      openChat(d.id, { focus: !!d.grabFocus });
      if (!d.grabFocus && !open) {
        toast(t(isGroupDM(d.id) ? 'toast.groupStarted' : 'toast.dmStarted', { name: chatName(d.id) }), {
          kind: 'info', icon: 'lock', ms: 10000,
          action: { label: t('action.open'), run: () => activate(d.id) },
        });
      }
      break;
    }
    case 'typing': {
      if (!d || !d.chatId || d.userId === me) break;
      const view = state.views[d.chatId];
      if (view) view.typing[d.userId] = { name: personName(d.userId, d.userName), until: Date.now() + TYPING_SHOW_MS };
      break;
    }
    case 'memberJoined':
    case 'memberLeft': {
      const c = d && chatById(d.chatId);
      if (!c) break;
      c.members = c.members || {};
      if (ev === 'memberJoined') {
        c.members[d.userId] = { ...(c.members[d.userId] || {}), userId: d.userId, userName: d.userName };
        notePerson(d);
        if (d.userId === me) c.joined = true; // joined on another device
      } else if (d.userId === me) {
        forgetMembership(d.chatId); // left on another device
      } else {
        delete c.members[d.userId];
      }
      break;
    }
    case 'membersChanged': {
      // A large chat's joins and leaves of a window: the count, and a new
      // version for the member list to refetch if it shows.
      const c = d && chatById(d.chatId);
      if (!c) break;
      c.memberCount = d.memberCount;
      c.membersVersion = (c.membersVersion || 0) + 1;
      break;
    }
    case 'memberRoleChanged': {
      const c = d && chatById(d.chatId);
      if (!c) break;
      if (c.members && c.members[d.userId]) c.members[d.userId].role = d.role;
      if (d.userId === me) c.role = d.role;
      if (d.role === 'owner') c.owner = d.userId;
      break;
    }
    default:
      applyMessageEvent(ev, d);
      break;
  }
}

// membersOf takes a member list as an object by id or an array.
function membersOf(list) {
  const out = {};
  for (const m of Array.isArray(list) ? list : Object.values(list)) if (m && m.userId) out[m.userId] = m;
  return out;
}

// chatChanged applies a chat view sent to every member: the fields about
// the viewer (joined, role) are the caller's own and kept, and so is the
// member list when the event carries none (memberJoined/memberLeft keep it).
function chatChanged(d) {
  const c = chatById(d.id);
  if (!c) return;
  const { joined, role, members, ...rest } = d;
  Object.assign(c, rest);
  if (members && Object.keys(members).length) c.members = members;
}

// onReopen runs after the socket came back. A recovered session replayed
// what we missed; a fresh one missed events, so state is reloaded, chats
// re-joined and message gaps filled from history. Either way, messages are
// de-duplicated by id.
async function onReopen(fresh) {
  try {
    if (fresh) {
      client.sendEvent('userConnected', { userName: state.me.userName, userProvider: state.me.provider }).catch(() => {});
      // A new connection watches nobody yet: what it is told at connect and
      // when it asks again is the presence shown.
      const again = [...watched];
      watched.clear();
      for (const p of Object.values(state.people)) if (p.userId !== state.me.userId) p.online = false;
      watchUsers(again);
      if (state.page === 'browse') client.sendEvent('watchChats', { on: true }).catch(() => {});
      await loadChats(false);
      if (state.idle) client.sendEvent('userEnterIdle', '').catch(() => {});
    }
    for (const id of [...state.tabs]) {
      const view = state.views[id];
      if (!view) continue;
      if (!canOpen(id)) { closeTab(id); continue; }
      await fillGap(view).catch(() => {});
    }
  } catch (err) {
    if (err && err.status === 401) location.reload();
  } finally {
    // The outbox resends with the same clientIds: the server stores each once.
    rejoined = !!client && client.connected;
    outbox.flush();
  }
}

// ---------- presence of the users shown ----------

// The server tells a connection the presence of the users it watches: its
// DM partners and small chats' members by itself, and whoever the page
// asks for with watchPresence (at most WATCH_MAX per connection).
const WATCH_MAX = 300;
const WATCH_DELAY_MS = 150;
const watched = new Set();   // asked for on this connection
const toWatch = new Set();   // waiting for the next watchPresence
let watchTimer = null;

// watchUsers asks the server for the presence of users the page displays
// (the people directory, DM partners, a chat's member panel). Calls made
// within WATCH_DELAY_MS go out as one event; users asked for before, and any
// past the connection's budget, are not sent.
export function watchUsers(ids) {
  for (const id of ids || []) {
    if (typeof id !== 'string' || !id || watched.has(id) || (state.me && id === state.me.userId)) continue;
    if (watched.size + toWatch.size >= WATCH_MAX) break;
    toWatch.add(id);
  }
  if (toWatch.size && !watchTimer) watchTimer = setTimeout(sendWatch, WATCH_DELAY_MS);
}

function sendWatch() {
  watchTimer = null;
  if (!client || !client.connected) return; // onReopen asks again
  const ids = [...toWatch];
  toWatch.clear();
  for (const id of ids) watched.add(id);
  client.sendEvent('watchPresence', { userIds: ids }).catch(() => {
    // Not watched after all: a later display may ask again.
    for (const id of ids) watched.delete(id);
  });
}

// dropConnection cuts the socket without a clean close, as a network failure
// would; the client then recovers its session. Exposed for tests and for
// trying reconnection by hand (chatr.dropConnection() in the console).
export function dropConnection() {
  if (client && client.ws) client.ws.close(4000, 'dropped by hand');
}

// connectionStats tells how many sessions were opened fresh and recovered.
export function connectionStats() {
  return client ? { ...client.stats, state: client.state } : null;
}

// ---------- actions ----------

// sendEvent sends an event to the server; it rejects with the ack's error.
export function sendEvent(event, data, dataType = 'json') {
  if (!client) return Promise.reject(new Error(t('error.notConnected')));
  return client.sendEvent(event, data, dataType);
}

export function byteLength(s) {
  return new TextEncoder().encode(s).length;
}

// sendMessage puts text (and the uploaded files it carries) in the outbox,
// which sends it now or once the connection is back; it returns an error
// text for a message that cannot be sent at all, or ''.
export function sendMessage(chatId, text, files = []) {
  const view = state.views[chatId];
  if (!text.trim() && !files.length) return '';
  if (byteLength(text) > state.config.maxMessageBytes) return t('chat.limit', { max: state.config.maxMessageBytes });
  if (view) {
    if (view.hasNewer) showLatest(chatId);
    view.stick = true;
    view.newLineAfter = null; // answering: what came before is read
  }
  outbox.add(chatId, text, view ? view.replyTo : 0, files);
  if (view) view.replyTo = 0;
  saveDraft(chatId, '');
  return '';
}

// sendEntry sends one outbox entry: {ok} once stored (or already stored),
// {retry} when the connection failed it, {error} when the server refused it.
async function sendEntry(e) {
  try {
    if (!isPrivate(e.chatId) && !state.views[e.chatId]) await openChat(e.chatId, { focus: false, quiet: true });
    const data = { message: e.text, fromUserId: state.me.userId, fromUserName: state.me.userName, clientId: e.clientId };
    if (e.replyTo) data.replyTo = e.replyTo;
    if (e.files.length) data.files = e.files.map((f) => f.id);
    await client.sendToGroup(e.chatId, data);
    return { ok: true };
  } catch (err) {
    if (err.name === 'ConnectionLost' || err.name === 'Timeout' || err.name === 'TooManyRequests') return { retry: true };
    return { error: errorText(err) };
  }
}

// sendTyping tells the chat that we are typing: at once, then at most every
// TYPING_SEND_MS while the draft keeps changing (a trailing event makes sure
// that typing which starts right after a throttled event is still shown).
const typingTimers = {};
export function sendTyping(chatId) {
  const now = Date.now();
  const since = now - (lastTypingSent[chatId] || 0);
  const fire = () => {
    const view = state.views[chatId];
    if (!client || !client.connected || !view || !view.draft.trim()) return;
    lastTypingSent[chatId] = Date.now();
    client.sendEvent('typing', { chatId }).catch(() => {});
  };
  if (since >= TYPING_SEND_MS) {
    fire();
  } else if (!typingTimers[chatId]) {
    typingTimers[chatId] = setTimeout(() => { delete typingTimers[chatId]; fire(); }, TYPING_SEND_MS - since);
  }
}

// createChat creates a group chat, public (listed in "Browse chats") or
// private (members only), and opens it.
export async function createChat(name, { visibility = 'public', topic = '' } = {}) {
  // Offline, the event would wait for an answer until it times out: say so at once.
  if (!client || !client.connected) throw new OfflineError();
  const id = crypto.randomUUID();
  const data = { name, id, visibility };
  if (topic) data.topic = topic;
  await client.sendEvent('createChat', data);
  // The creator is its owner and member; joining makes sure of it (a
  // member's joinChat changes nothing), as the original client does.
  await client.sendEvent('joinChat', id, 'text');
  const me = state.me;
  state.chats[id] = {
    id, name, owner: me.userId, visibility, topic, ...(state.chats[id] || {}), joined: true, role: 'owner',
    members: { [me.userId]: { userId: me.userId, userName: me.userName, role: 'owner' } },
  };
  state.page = null;
  openChat(id, { focus: true });
}

// createGroupDM starts a conversation of the caller with 2 to 8 others; the
// server answers every member with joinPrivateChat.
export async function createGroupDM(userIds) {
  await client.sendEvent('createGroupDM', { userIds });
}

export async function deleteChat(chatId) {
  await client.sendEvent('deleteChat', chatId, 'text');
}

// startPrivateChat opens the DM with a user, online or not; the server
// creates it the first time and answers with joinPrivateChat.
export async function startPrivateChat(userId) {
  if (!state.me || userId === state.me.userId) return;
  const me = state.me.userId;
  const id = 'private_' + (me < userId ? me + '_' + userId : userId + '_' + me);
  state.page = null;
  if (state.privateChats[id]) { openChat(id, { focus: true }); return; }
  await client.sendEvent('createPrivateChat', { targetUserId: userId });
}

// deleteAccount deletes the caller's account (the server wants the handle
// as confirmation); the socket is closed by the server, so it is stopped
// here first to keep it from reconnecting.
export async function deleteAccount(handle) {
  await api.deleteMe(handle);
  if (client) client.stop();
}

// rename changes the caller's display name; the others see userRenamed.
export async function rename(userName) {
  const m = await api.updateMe({ userName });
  state.me.userName = m.userName || userName;
  notePerson({ userId: state.me.userId, userName: state.me.userName });
}

// ---------- the people directory ----------

const DIRECTORY_PAGE = 50;

export const directory = reactive({ q: '', ids: [], next: '', loading: false, error: '', loaded: false });
let directorySeq = 0;

// searchPeople loads the first page of the directory for q (a name or
// @handle); a later search wins over an earlier one still loading.
export async function searchPeople(q) {
  directory.q = q;
  directory.ids = [];
  directory.next = '';
  await loadPeople();
}

// morePeople loads the directory's next page.
export async function morePeople() {
  if (!directory.next || directory.loading) return;
  await loadPeople();
}

async function loadPeople() {
  const seq = ++directorySeq;
  directory.loading = true;
  directory.error = '';
  try {
    const q = directory.q.trim().replace(/^@/, '');
    const r = await api.people({ q, after: directory.next, limit: DIRECTORY_PAGE });
    if (seq !== directorySeq) return;
    // The server pages in handle order; a JSON object's order is not to be
    // relied on.
    const page = Object.entries(r.users || {}).map(([id, u]) => ({ ...u, userId: u.userId || id }))
      .sort((a, b) => String(a.handle || a.userName).localeCompare(String(b.handle || b.userName)));
    const ids = [];
    for (const u of page) {
      notePerson({ ...u, online: !!u.online, idle: !!u.idle });
      ids.push(u.userId);
    }
    directory.ids.push(...ids.filter((id) => !directory.ids.includes(id)));
    directory.next = r.next || '';
    directory.loaded = true;
    watchUsers(ids);
  } catch (err) {
    if (seq === directorySeq) directory.error = errorText(err);
  } finally {
    if (seq === directorySeq) directory.loading = false;
  }
}

// markRead marks the chat read up to upTo, the last message that was on
// screen; without it, the chat's view tells what is on screen now. Markers
// go out at most every READ_SEND_MS per chat, the latest one; a marker the
// server did not take (its budget, a lost connection) goes again after
// READ_RETRY_MS, so the marker never stays behind what was read.
const READ_SEND_MS = 300;
const READ_RETRY_MS = 2000;
const READ_RETRY = new Set(['TooManyRequests', 'Timeout', 'ConnectionLost', 'InternalServerError']);
export function markRead(chatId, upTo) {
  if (state.hidden || state.page || state.active !== chatId) return;
  const view = state.views[chatId];
  if (!view || !client) return;
  if (upTo === undefined) {
    if (view.noteRead) view.noteRead();
    return;
  }
  if (!(upTo > (view.lastReadSent || 0))) return;
  view.lastReadSent = upTo;
  sendReadLater(chatId, view, READ_SEND_MS);
}

function sendReadLater(chatId, view, ms) {
  if (view.readTimer) return;
  view.readTimer = setTimeout(() => {
    view.readTimer = null;
    if (!client || state.views[chatId] !== view) return;
    client.sendEvent('markRead', { chatId, messageId: view.lastReadSent }).catch((err) => {
      if (READ_RETRY.has(err && err.name) && state.views[chatId] === view) sendReadLater(chatId, view, READ_RETRY_MS);
    });
  }, ms);
}


export async function askNotifications() {
  if (typeof Notification === 'undefined') return;
  state.notify = await Notification.requestPermission();
  if (state.notify === 'granted') toast(t('toast.notifyOn'), { kind: 'success', icon: 'bell' });
}

// maybeNotify tells of a message the user wants to hear of (settings.js:
// per chat, or mentions and direct messages) that is not in front of them:
// a sound when it is on, and a notification while the page is hidden.
function maybeNotify(chatId, m) {
  if (typeof Notification !== 'undefined') state.notify = Notification.permission; // may change in site settings
  const priv = isPrivate(chatId);
  if (!notable(chatId, { direct: priv, mentioned: mentionsMe(m) })) return;
  if (!state.hidden && state.active === chatId && !state.page) return;
  playSound();
  if (!state.hidden || state.notify !== 'granted') return;
  try {
    const n = new Notification(priv ? m.fromUserName : t('notify.in', { name: m.fromUserName, chat: chatName(chatId) }), {
      body: m.message.slice(0, 200), tag: 'chatr-' + chatId,
    });
    n.onclick = () => { window.focus(); activate(chatId); n.close(); };
  } catch { /* not allowed in this context */ }
}

const ERROR_NAMES = ['Forbidden', 'NotFound', 'TooManyRequests', 'BadRequest', 'Timeout', 'Stopped', 'Conflict', 'Gone', 'ConnectionLost'];
// The errors whose message is the client's own (in English): their name says it all.
const OWN_MESSAGES = ['Timeout', 'TooManyRequests', 'Stopped', 'ConnectionLost'];

export function errorText(err) {
  if (!err) return t('error.unknown');
  if (err instanceof OfflineError) return t('error.offline');
  if (ERROR_NAMES.includes(err.name)) {
    const name = t('error.' + err.name);
    return err.message && !OWN_MESSAGES.includes(err.name) ? `${name} (${err.message})` : name;
  }
  return err.message || String(err);
}

// OfflineError refuses what needs the server while the connection is down.
export class OfflineError extends Error {
  constructor() {
    super('offline');
    this.name = 'Offline';
  }
}

// retryNow tries to reconnect at once (the banner's "Retry now").
export function retryNow() {
  if (client) client.retryNow();
}

// ---------- idle detection, visibility, title ----------

function noteActivity() {
  lastActivity = Date.now();
  if (state.idle && client) {
    state.idle = false;
    client.sendEvent('userExitIdle', '').catch(() => {});
  }
}

let idleStarted = false;
function startIdleDetection() {
  if (idleStarted) return;
  idleStarted = true;
  const active = noteActivity;
  for (const ev of ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus']) {
    window.addEventListener(ev, active, { passive: true, capture: true });
  }
  setInterval(() => {
    const limit = (state.config.idleTimeoutSeconds || 60) * 1000;
    if (!state.idle && client && Date.now() - lastActivity >= limit) {
      state.idle = true;
      client.sendEvent('userEnterIdle', '').catch(() => {});
    }
    // Expire typing indicators.
    const now = Date.now();
    for (const view of Object.values(state.views)) {
      for (const [uid, t] of Object.entries(view.typing)) if (t.until < now) delete view.typing[uid];
    }
  }, 1000);
}

document.addEventListener('visibilitychange', () => {
  state.hidden = document.hidden;
  if (!state.hidden) {
    if (state.phase === 'ready') noteActivity();
    if (state.active) markRead(state.active);
  }
});

// A page that goes away never recovers its session: closing the socket
// cleanly ends it at once, so the others see this user leave after the
// server's short grace rather than after the whole recovery window.
window.addEventListener('pagehide', () => { if (client) client.stop(); });
// The browser's network coming back: try at once rather than at the next attempt.
window.addEventListener('online', () => { state.netOffline = false; retryNow(); });
window.addEventListener('offline', () => { state.netOffline = true; });
// A page restored from the back/forward cache has lost its connection.
window.addEventListener('pageshow', (e) => { if (e.persisted && state.phase === 'ready') location.reload(); });

watch(() => totalUnread(), (n) => {
  document.title = n > 0 ? `(${n}) Chatr` : 'Chatr';
}, { immediate: true });
