// The client's state and everything that changes it: sign-in, the hub
// connection, chat events, history, unread counts, idle detection and
// notifications. Components only read this state and call these functions.
import { reactive, markRaw, watch } from '/vendor/vue.esm-browser.prod.js';
import { api, logoutUrl } from './api.js';
import { HubClient } from './hubclient.js';
import { unescapeAnnouncement } from './text.js';
import { Outbox } from './outbox.js';
import { applyMessageEvent, messageFields, loadDraft, saveDraft } from './message.js';

const PAGE = 50;          // messages per history page
const TYPING_SHOW_MS = 6000;
const TYPING_SEND_MS = 3000;
const TOAST_MS = 6000;

export const state = reactive({
  phase: 'boot',          // boot | signin | loading | ready | error
  error: '',
  steps: [],
  providers: [],
  guest: true,
  maxNameLength: 32, // the server's default; /.auth/providers says
  me: null,               // {userId, userName, provider}
  config: { idleTimeoutSeconds: 60, maxMessageBytes: 4096, maxChatNameLength: 64 },
  chats: {},              // group chats by id
  privateChats: {},       // the caller's private chats by id
  users: {},              // online users by id
  unread: {},             // chatId -> count
  mentions: {},           // chatId -> unread messages that mention the caller
  tabs: [],               // open chat ids, in tab order
  views: {},              // chatId -> view (messages, paging, typing)
  active: null,           // chatId of the tab in front
  conn: 'stopped',        // connecting | connected | reconnecting | stopped
  idle: false,
  notify: typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  toasts: [],
  sidebarOpen: false,
  modal: null,            // {kind: 'create'} | {kind: 'delete', chatId}
  hidden: document.hidden,
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

export function isPrivate(id) {
  return String(id).startsWith('private_') || !!(state.privateChats[id]);
}

export function chatName(id) {
  const c = chatById(id);
  if (c) return c.name;
  return isPrivate(id) ? 'Private chat' : 'Chat';
}

export function totalUnread() {
  return Object.values(state.unread).reduce((a, b) => a + (b || 0), 0);
}

export function toast(text, opts = {}) {
  const t = { id: ++toastSeq, text, kind: opts.kind || 'info', action: opts.action || null, icon: opts.icon || null };
  state.toasts.push(t);
  if (state.toasts.length > 5) state.toasts.splice(0, state.toasts.length - 5);
  setTimeout(() => dismissToast(t.id), opts.ms || TOAST_MS);
  return t;
}

export function dismissToast(id) {
  const i = state.toasts.findIndex((t) => t.id === id);
  if (i >= 0) state.toasts.splice(i, 1);
}

function parseJSON(s) {
  if (typeof s !== 'string') return s;
  try { return JSON.parse(s); } catch { return s; }
}

function userName(id) {
  const u = state.users[id];
  return u ? u.userName : 'Someone';
}

// ---------- start-up ----------

const STEP_LABELS = [
  ['auth', 'Checking your sign-in'],
  ['config', 'Loading settings'],
  ['chats', 'Loading chats'],
  ['users', 'Loading who is online'],
  ['token', 'Getting an access token'],
  ['connect', 'Connecting to the chat server'],
  ['presence', 'Announcing you to the others'],
];

function step(key, status) {
  const s = state.steps.find((x) => x.key === key);
  if (s) s.status = status;
}

export async function boot() {
  if (client) { client.stop(); client = null; } // "Try again" after a failed start
  state.phase = 'loading';
  state.steps = STEP_LABELS.map(([key, label]) => ({ key, label, status: 'pending' }));
  let current = 'auth';
  try {
    step('auth', 'active');
    const p = await api.me();
    if (!p) {
      await showSignIn();
      return;
    }
    state.me = { userId: p.userId, userName: p.userDetails, provider: p.identityProvider };
    step('auth', 'done');

    current = 'config'; step('config', 'active');
    try {
      Object.assign(state.config, await api.config());
    } catch { /* defaults */ }
    step('config', 'done');

    current = 'chats'; step('chats', 'active');
    await loadChats(true);
    step('chats', 'done');

    current = 'users'; step('users', 'active');
    state.users = await api.users();
    step('users', 'done');

    current = 'token'; step('token', 'active');
    let first = (await api.token(state.me.userId)).url;
    step('token', 'done');

    current = 'connect'; step('connect', 'active');
    let gotSelf;
    selfOnline = new Promise((r) => { gotSelf = r; });
    selfOnline.resolve = gotSelf;
    client = markRaw(new HubClient(async () => {
      if (first) { const u = first; first = null; return renderAsText(u); }
      return renderAsText((await api.token(state.me.userId)).url);
    }));
    const opened = new Promise((r) => client.addEventListener('open', r, { once: true }));
    client.addEventListener('state', (e) => { state.conn = e.detail; if (e.detail !== 'connected') rejoined = false; });
    client.addEventListener('message', (e) => onFrame(e.detail));
    client.addEventListener('open', (e) => { if (state.phase === 'ready') onReopen(e.detail.fresh); });
    client.addEventListener('unauthorized', () => { location.reload(); });
    client.start();
    await withTimeout(opened, 30000, 'The chat server did not answer');
    client.sendEvent('userConnected', { userName: state.me.userName, userProvider: state.me.provider }).catch(() => {});
    step('connect', 'done');

    current = 'presence'; step('presence', 'active');
    await withTimeout(selfOnline, 10000, '').catch(() => {});
    step('presence', 'done');

    state.phase = 'ready';
    startIdleDetection();
    restoreTabs();
    outbox.open(outboxKey(), sendEntry, () => rejoined && !!client && client.connected);
    rejoined = client.connected;
    outbox.flush();
  } catch (err) {
    step(current, 'error');
    if (err && err.status === 401) { await showSignIn(); return; }
    state.error = (err && err.message) || 'Something went wrong';
  }
}

// renderAsText declares, in the hub URL, that this client renders message
// text as text: the server then sends it as written (to clients that do
// not declare it, it sends text HTML-escaped).
function renderAsText(url) {
  const u = new URL(url, location.href);
  u.searchParams.set('render', 'text');
  return u.toString();
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
  try { localStorage.removeItem(tabsKey()); } catch { /* private mode */ }
  // What was never sent stays with whoever wrote it, not with this device.
  try { localStorage.removeItem(outboxKey()); } catch { /* private mode */ }
  location.href = logoutUrl;
}

async function loadChats(initial) {
  const c = await api.chats();
  state.chats = c.chats || {};
  state.privateChats = c.privateChats || {};
  if (initial || c.unread) {
    const u = c.unread || {};
    for (const id of Object.keys(state.unread)) if (!(id in u) && !state.views[id]) delete state.unread[id];
    for (const [id, n] of Object.entries(u)) {
      // A chat in front while the page is visible has been read here.
      if (id === state.active && !state.hidden) continue;
      state.unread[id] = n;
    }
    state.mentions = { ...(c.mentions || {}) };
  }
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
  for (const id of saved.tabs || []) {
    if (chatById(id)) openChat(id, { focus: false, quiet: true });
  }
  // Group chats we are a member of (joined here or on another device) and
  // private chats with unread messages open in the background.
  for (const c of Object.values(state.chats)) {
    if (c.members && c.members[state.me.userId]) openChat(c.id, { focus: false, quiet: true });
  }
  for (const id of Object.keys(state.privateChats)) {
    if ((state.unread[id] || 0) > 0) openChat(id, { focus: false, quiet: true });
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

// openChat opens (or shows) the tab of a chat. Group chats are joined first,
// which also makes the caller a member so that history can be read.
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
    if (!isPrivate(chatId)) await join(chatId);
    await loadLatest(view);
    view.loaded = true;
  } catch (err) {
    view.error = errorText(err);
    if (!quiet) toast(`Could not open ${chatName(chatId)}: ${view.error}`, { kind: 'danger' });
  } finally {
    view.loading = false;
  }
}

async function join(chatId) {
  await client.sendEvent('joinChat', chatId, 'text');
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
  state.unread[chatId] = 0;
  if (!isPrivate(chatId) && client && chatById(chatId)) {
    client.sendEvent('leaveChat', chatId, 'text').catch(() => {});
  }
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
    toast('Could not load newer messages: ' + errorText(err), { kind: 'danger' });
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
    toast('Could not load older messages: ' + errorText(err), { kind: 'danger' });
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
    kind: 'msg', id, fromUserId: m.fromUserId, fromUserName: m.fromUserName,
    message: String(m.message ?? ''), time: m.time || new Date().toISOString(), ...messageFields(m),
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
    return;
  }
  if (f.from === 'group' && f.group) onGroupMessage(f.group, f);
}

function onGroupMessage(chatId, f) {
  const d = f.data;
  if (d && typeof d === 'object' && d.message !== undefined && d.id !== undefined) {
    let view = state.views[chatId];
    if (!view) {
      // A message for a chat without a tab (e.g. a private chat closed
      // earlier): open it in the background; its history load includes it.
      openChat(chatId, { focus: false, quiet: true });
      view = state.views[chatId];
    }
    const mine = state.me && d.fromUserId === state.me.userId;
    if (mine && typeof d.clientId === 'string') outbox.confirmed(d.clientId);
    if (d.fromUserId && view.typing[d.fromUserId]) delete view.typing[d.fromUserId];
    // While older messages are shown, a new one is not added but unread.
    const beyond = view.hasNewer && !view.seen.has(Number(d.id));
    if (!addMessage(view, d) && !beyond) return;
    if (!mine) {
      // Unread until it is on screen (see markRead).
      state.unread[chatId] = (state.unread[chatId] || 0) + 1;
      if (d.mentions && Array.isArray(d.mentions.users) && d.mentions.users.includes(state.me.userId)) state.mentions[chatId] = (state.mentions[chatId] || 0) + 1;
      markRead(chatId);
      maybeNotify(chatId, d);
    } else if (state.active === chatId) {
      view.stick = true;
      markRead(chatId);
    }
    return;
  }
  if (typeof d === 'string') {
    const view = state.views[chatId];
    if (!view) return;
    view.items.push({ kind: 'note', key: 'n' + (++toastSeq), text: unescapeAnnouncement(d), time: new Date().toISOString() });
  }
}

function onChatEvent(ev, d) {
  switch (ev) {
    case 'chatCreated':
      if (d && d.id) state.chats[d.id] = d;
      break;
    case 'chatDeleted': {
      const c = state.chats[d];
      delete state.chats[d];
      if (state.views[d]) {
        closeTab(d);
        toast(`“${c ? c.name : 'A chat'}” was deleted`, { kind: 'warning' });
      }
      delete state.unread[d];
      break;
    }
    case 'userOnline': {
      if (!d || !d.userId) break;
      const known = !!state.users[d.userId];
      state.users[d.userId] = d;
      if (state.me && d.userId === state.me.userId) {
        if (selfOnline) selfOnline.resolve();
      } else if (!known && state.phase === 'ready') {
        toast(`${d.userName} is online`, { kind: 'success', icon: 'user' });
      }
      break;
    }
    case 'userOffline': {
      const u = state.users[d];
      if (!u) break;
      if (state.me && d === state.me.userId) break; // another of our tabs closed
      delete state.users[d];
      toast(`${u.userName} went offline`, { icon: 'logout' });
      break;
    }
    case 'userIsIdle':
    case 'userNotIdle': {
      const idle = ev === 'userIsIdle';
      const u = state.users[d];
      if (!u || u.idle === idle) break;
      u.idle = idle;
      if (!state.me || d !== state.me.userId) {
        toast(idle ? `${u.userName} is away` : `${u.userName} is back`, { icon: idle ? 'moon' : 'user' });
      }
      break;
    }
    case 'joinPrivateChat': {
      if (!d || !d.id) break;
      state.privateChats[d.id] = { id: d.id, name: d.name, private: true, members: {} };
      const open = !!state.views[d.id];
      openChat(d.id, { focus: !!d.grabFocus });
      if (!d.grabFocus && !open) {
        const who = String(d.name || '').replace(/^Chat with /, '') || 'Someone';
        toast(`${who} started a private chat with you`, {
          kind: 'info', icon: 'lock', ms: 10000,
          action: { label: 'Open', run: () => activate(d.id) },
        });
      }
      break;
    }
    case 'typing': {
      if (!d || !d.chatId || (state.me && d.userId === state.me.userId)) break;
      const view = state.views[d.chatId];
      if (view) view.typing[d.userId] = { name: d.userName, until: Date.now() + TYPING_SHOW_MS };
      break;
    }
    case 'memberJoined':
    case 'memberLeft': {
      const c = d && (state.chats[d.chatId] || state.privateChats[d.chatId]);
      if (!c) break;
      c.members = c.members || {};
      if (ev === 'memberJoined') c.members[d.userId] = { userId: d.userId, userName: d.userName };
      else delete c.members[d.userId];
      break;
    }
    default:
      applyMessageEvent(ev, d);
      break;
  }
}

// onReopen runs after the socket came back. A recovered session replayed
// what we missed; a fresh one missed events, so state is reloaded, chats
// re-joined and message gaps filled from history. Either way, messages are
// de-duplicated by id.
async function onReopen(fresh) {
  try {
    if (fresh) {
      client.sendEvent('userConnected', { userName: state.me.userName, userProvider: state.me.provider }).catch(() => {});
      const [, users] = await Promise.all([loadChats(false), api.users()]);
      state.users = users;
      if (state.idle) client.sendEvent('userEnterIdle', '').catch(() => {});
    }
    for (const id of [...state.tabs]) {
      const view = state.views[id];
      if (!view) continue;
      if (!chatById(id)) { closeTab(id); continue; }
      if (fresh) await join(id).catch(() => {});
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

export function byteLength(s) {
  return new TextEncoder().encode(s).length;
}

// sendMessage puts text in the outbox, which sends it now or once the
// connection is back; it returns an error text for a message that cannot be
// sent at all, or ''.
export function sendMessage(chatId, text) {
  const view = state.views[chatId];
  if (!text.trim()) return '';
  if (byteLength(text) > state.config.maxMessageBytes) return `Messages are limited to ${state.config.maxMessageBytes} bytes`;
  if (view) {
    if (view.hasNewer) showLatest(chatId);
    view.stick = true;
    view.newLineAfter = null; // answering: what came before is read
  }
  outbox.add(chatId, text, view ? view.replyTo : 0);
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

export async function createChat(name) {
  const id = crypto.randomUUID();
  await client.sendEvent('createChat', { name, id });
  state.chats[id] = state.chats[id] || { id, name, owner: state.me.userId, members: {} };
  openChat(id, { focus: true });
}

export async function deleteChat(chatId) {
  await client.sendEvent('deleteChat', chatId, 'text');
}

export async function startPrivateChat(userId) {
  if (!state.me || userId === state.me.userId) return;
  await client.sendEvent('createPrivateChat', { targetUserId: userId });
}

// markRead marks the chat read up to upTo, the last message that was on
// screen; without it, the chat's view tells what is on screen now. Markers
// go out at most every READ_SEND_MS per chat, the latest one.
const READ_SEND_MS = 300;
export function markRead(chatId, upTo) {
  if (state.hidden || state.active !== chatId) return;
  const view = state.views[chatId];
  if (!view || !client) return;
  if (upTo === undefined) {
    if (view.noteRead) view.noteRead();
    return;
  }
  if (!(upTo > (view.lastReadSent || 0))) return;
  view.lastReadSent = upTo;
  if (view.readTimer) return;
  view.readTimer = setTimeout(() => {
    view.readTimer = null;
    if (client) client.sendEvent('markRead', { chatId, messageId: view.lastReadSent }).catch(() => {});
  }, READ_SEND_MS);
}

// sendEvent sends a client event on the hub connection.
export function sendEvent(name, data) {
  if (!client) return Promise.reject(new Error('not connected'));
  return client.sendEvent(name, data);
}

export async function askNotifications() {
  if (typeof Notification === 'undefined') return;
  state.notify = await Notification.requestPermission();
  if (state.notify === 'granted') toast('Notifications are on for private messages and mentions', { kind: 'success', icon: 'bell' });
}

function maybeNotify(chatId, m) {
  if (typeof Notification !== 'undefined') state.notify = Notification.permission; // may change in site settings
  if (!state.hidden || state.notify !== 'granted') return;
  const priv = isPrivate(chatId);
  if (!priv && !(m.mentions && Array.isArray(m.mentions.users) && m.mentions.users.includes(state.me.userId))) return;
  try {
    const n = new Notification(priv ? m.fromUserName : `${m.fromUserName} in ${chatName(chatId)}`, {
      body: m.message.slice(0, 200), tag: 'chatr-' + chatId,
    });
    n.onclick = () => { window.focus(); activate(chatId); n.close(); };
  } catch { /* not allowed in this context */ }
}

export function errorText(err) {
  if (!err) return 'unknown error';
  const names = {
    Forbidden: 'not allowed', NotFound: 'not found', TooManyRequests: 'you are sending too fast, wait a moment',
    BadRequest: 'the server refused it', Timeout: 'the server did not answer in time', Stopped: 'disconnected',
  };
  if (names[err.name]) return err.message && err.name !== 'Timeout' && err.name !== 'TooManyRequests' ? `${names[err.name]} (${err.message})` : names[err.name];
  return err.message || String(err);
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

watch(() => totalUnread(), (n) => {
  document.title = n > 0 ? `(${n}) Chatr` : 'Chatr';
}, { immediate: true });
