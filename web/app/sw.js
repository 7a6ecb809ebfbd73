// Chatr's service worker, served at /sw.js (scope /) with VERSION and SHELL
// filled in by the server (embed.go): what makes the app start without the
// network, read-only, on the chats and messages it last saw.
//
// - The app shell (index.html and the hashed files it names) is cached
//   under the app's version when the worker installs; a new version is a
//   new worker, whose activation deletes the caches of older ones, so old
//   code is never served once the new one is in.
// - A few API answers (who is signed in, the profile, the settings, the
//   chat list and the newest page of each chat) go to the network first and
//   are kept, in a cache of the signed-in user's own, for when it fails.
//   Sign-out, a signed-out answer or another user's answer deletes the
//   cache: no answer is ever served across users.
/* global self, caches, fetch, Response, URL */

const VERSION = '__VERSION__';
const SHELL = ['__SHELL__'];
const SHELL_CACHE = 'chatr-shell-' + VERSION;
const DATA_PREFIX = 'chatr-data-';
const MAX_CHATS = 100; // chats whose newest page is kept

// The API answers kept for offline use, by path.
const KEPT = [/^\/\.auth\/me$/, /^\/api\/me$/, /^\/api\/config$/, /^\/api\/chats$/, /^\/api\/chats\/[^/]+\/messages$/];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('chatr-shell-') && k !== SHELL_CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The page says when its user signs out (the worker also sees the request).
self.addEventListener('message', (e) => {
  if (e.data && e.data.type === 'signOut') e.waitUntil(forgetUsers(''));
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/.auth/logout') {
    e.waitUntil(forgetUsers(''));
    return;
  }
  if (req.method !== 'GET' || req.cache === 'no-store') return;
  if (req.mode === 'navigate') {
    e.respondWith(fetch(req).catch(() => caches.match('/', { cacheName: SHELL_CACHE }).then((r) => r || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    e.respondWith(caches.match(url.pathname, { cacheName: SHELL_CACHE }).then((r) => r || fetch(req)));
    return;
  }
  if (KEPT.some((re) => re.test(url.pathname))) e.respondWith(networkFirst(req, url));
});

// dataKey is what an answer is kept under: the newest page of a chat
// stands for every request of it that is not a page of older or newer
// messages.
function dataKey(url) {
  if (!url.pathname.endsWith('/messages')) return url.pathname + url.search;
  const q = url.searchParams;
  if (q.has('before') || q.has('after')) return null;
  return url.pathname;
}

async function networkFirst(req, url) {
  const key = dataKey(url);
  let res;
  try {
    res = await fetch(req);
  } catch (err) {
    const user = await currentUser();
    const kept = user && key && await (await caches.open(DATA_PREFIX + user)).match(key);
    if (kept) return kept;
    throw err;
  }
  if (res.ok && key) await keep(key, url, res.clone());
  return res;
}

let who = null; // the signed-in user, learned from /.auth/me

// currentUser is the user whose answers are kept: the one learned from
// /.auth/me, or, when the worker has restarted since, the one whose cache
// exists.
async function currentUser() {
  if (who !== null) return who;
  const data = (await caches.keys()).filter((k) => k.startsWith(DATA_PREFIX));
  return data.length === 1 ? data[0].slice(DATA_PREFIX.length) : '';
}

async function keep(key, url, res) {
  if (url.pathname === '/.auth/me') {
    let p = null;
    try { p = (await res.clone().json()).clientPrincipal; } catch { /* not JSON */ }
    who = (p && p.userId) || '';
    await forgetUsers(who);
    if (!who) return;
  }
  const user = await currentUser();
  if (!user) return;
  const cache = await caches.open(DATA_PREFIX + user);
  await cache.put(key, res);
  if (url.pathname.endsWith('/messages')) {
    const pages = (await cache.keys()).filter((r) => new URL(r.url).pathname.endsWith('/messages'));
    for (const r of pages.slice(0, Math.max(0, pages.length - MAX_CHATS))) await cache.delete(r);
  }
}

// forgetUsers deletes the kept answers of every user but keep.
async function forgetUsers(keep) {
  if (!keep) who = '';
  const keys = await caches.keys();
  await Promise.all(keys.filter((k) => k.startsWith(DATA_PREFIX) && k !== DATA_PREFIX + keep).map((k) => caches.delete(k)));
}
