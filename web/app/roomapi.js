// The HTTP calls of a room's features (docs/api.md, "Rooms, people and
// admins"): members with presence, people search, invite links and an
// admin's ban. Each rejects with api.js's HttpError.
import { request } from './api.js';

const chatPath = (chatId) => `/api/chats/${encodeURIComponent(chatId)}`;

// SEARCH_LIMIT bounds the people a name search lists.
const SEARCH_LIMIT = 20;

export const roomApi = {
  members: async (chatId) => (await request('GET', chatPath(chatId) + '/members')).members || [],
  searchUsers: async (q) => {
    const r = await request('GET', '/api/users?' + new URLSearchParams({ q, limit: String(SEARCH_LIMIT) }));
    return Object.values(r.users || {});
  },
  // createInvite: maxUses is left out for "unlimited".
  createInvite: (chatId, { expiresInSeconds, maxUses }) => {
    const body = { expiresInSeconds };
    if (maxUses > 0) body.maxUses = maxUses;
    return request('POST', chatPath(chatId) + '/invites', body);
  },
  invites: async (chatId) => (await request('GET', chatPath(chatId) + '/invites')).invites || [],
  revokeInvite: (chatId, inviteId) => request('DELETE', `${chatPath(chatId)}/invites/${encodeURIComponent(inviteId)}`),
  acceptInvite: (token) => request('POST', `/api/invites/${encodeURIComponent(token)}`),
  ban: (userId) => request('POST', `/api/admin/users/${encodeURIComponent(userId)}/ban`),
};
