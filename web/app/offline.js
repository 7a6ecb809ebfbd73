// The installable, offline side of the app: the service worker's
// registration (app/sw.js, served at /sw.js), what sign-out tells it, and
// the notice of a page that started without the server: read-only, on the
// chats and messages the worker kept.
import { h } from '/vendor/vue.runtime.esm-browser.prod.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

// registerServiceWorker installs the worker once the page has loaded, so
// that its download of the app shell does not compete with the page's.
export function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  const register = () => navigator.serviceWorker.register('/sw.js').catch(() => { /* the app works without it */ });
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}

// forgetOfflineData asks the worker to delete what it kept of the user's
// chats; it does so on /.auth/logout too, which may not reach it from a
// page that is closing.
export function forgetOfflineData() {
  const sw = navigator.serviceWorker && navigator.serviceWorker.controller;
  if (sw) sw.postMessage({ type: 'signOut' });
}

// unreachable tells a request that failed for want of the server (an
// HttpError of status 0) from one the server refused.
export function unreachable(err) {
  return !!err && err.status === 0;
}

const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;

let retry = null; // {timer, delay, probe, then} while the server is away

// whenReachable calls probe, at growing intervals, until it resolves, then
// calls then. retryNow probes at once.
export function whenReachable(probe, then) {
  if (retry) clearTimeout(retry.timer);
  retry = { timer: null, delay: RETRY_FIRST_MS, probe, then };
  schedule();
}

function schedule() {
  retry.timer = setTimeout(attempt, retry.delay);
  retry.delay = Math.min(retry.delay * 2, RETRY_MAX_MS);
}

async function attempt() {
  const r = retry;
  if (!r) return;
  try {
    await r.probe();
  } catch {
    if (retry === r) schedule();
    return;
  }
  retry = null;
  r.then();
}

export function retryNow() {
  if (!retry) return;
  clearTimeout(retry.timer);
  attempt();
}

// OfflineBanner says that the page runs without the server, on what it saw
// last, and cannot send.
export function OfflineBanner() {
  return h('div', { class: 'offline-banner', role: 'status', id: 'offline-banner' }, [
    icon('alert', { size: 16 }),
    h('span', [h('strong', t('offline.title')), ' ', t('offline.body')]),
    h('button', { class: 'button is-small is-warning is-light', id: 'offline-retry', onClick: retryNow }, t('conn.retryNow')),
  ]);
}
