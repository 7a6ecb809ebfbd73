// Thin wrappers around Chatr's HTTP API (docs/api.md). Every call rejects
// with an HttpError carrying the status and the server's error code.

import { t } from './i18n.js';

export class HttpError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new HttpError(0, 'network', t('error.unreachable'));
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    throw new HttpError(res.status, data && data.error, data && data.message);
  }
  return data;
}

export const api = {
  me: async () => (await request('GET', '/.auth/me')).clientPrincipal,
  providers: () => request('GET', '/.auth/providers'),
  guestLogin: (name) => request('POST', '/.auth/login/guest', { name }),
  config: () => request('GET', '/api/config'),
  chats: () => request('GET', '/api/chats'),
  members: async (chatId) => (await request('GET', `/api/chats/${encodeURIComponent(chatId)}/members`)).members || [],
  users: async () => (await request('GET', '/api/users')).users || {},
  profile: () => request('GET', '/api/me'),
  updateMe: (fields) => request('PATCH', '/api/me', fields),
  deleteMe: (handle) => request('DELETE', '/api/me', { confirm: handle }),
  // people pages through every user (the directory), q filtering by name or handle.
  people: ({ q, after, limit } = {}) => {
    const p = new URLSearchParams({ all: '1' });
    if (q) p.set('q', q);
    if (after) p.set('after', after);
    if (limit) p.set('limit', String(limit));
    return request('GET', '/api/users?' + p);
  },
  token: (userId) => request('GET', '/api/getToken?userId=' + encodeURIComponent(userId)),
  messages: (chatId, { before, after, around, limit } = {}) => {
    const q = new URLSearchParams();
    if (before) q.set('before', before);
    if (after) q.set('after', after);
    if (around) q.set('around', around);
    q.set('limit', String(limit || 50));
    return request('GET', `/api/chats/${encodeURIComponent(chatId)}/messages?${q}`);
  },
};

export function loginUrl(provider) {
  const sep = provider.loginUrl.includes('?') ? '&' : '?';
  return provider.loginUrl + sep + 'post_login_redirect_uri=' + encodeURIComponent('/');
}

export const logoutUrl = '/.auth/logout?post_logout_redirect_uri=' + encodeURIComponent('/');
