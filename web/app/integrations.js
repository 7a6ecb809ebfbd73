// Integrations: a chat's incoming webhooks (in the chat settings dialog)
// and the signed-in user's API tokens (a dialog of the profile menu). A
// webhook's URL and a token are shown once, when made: the server keeps
// only their hashes. Everything shown is text (no markup from the server).

import { h, ref, reactive, onMounted } from '/vendor/vue.runtime.esm-browser.prod.js';
import { request } from './api.js';
import { state } from './store.js';
import { icon } from './icons.js';
import { fullTime } from './text.js';

const MAX_NAME = 64; // the server's MaxIntegrationName

function errorOf(err) {
  return (err && err.message) || 'Something went wrong';
}

// secretBox shows a secret once, with a copy button.
function secretBox(id, label, value) {
  const copied = ref(false);
  return () => h('div', { class: 'field secret-once', id }, [
    h('label', { class: 'label is-small', for: id + '-value' }, label),
    h('div', { class: 'field has-addons' }, [
      h('div', { class: 'control is-expanded' }, h('input', { id: id + '-value', class: 'input is-small', readonly: true, value, onFocus: (e) => e.target.select() })),
      h('div', { class: 'control' }, h('button', {
        class: 'button is-small', type: 'button', id: id + '-copy',
        onClick: async () => {
          try { await navigator.clipboard.writeText(value); copied.value = true; } catch { /* the field stays selectable */ }
        },
      }, copied.value ? 'Copied' : 'Copy')),
    ]),
    h('p', { class: 'help' }, 'Shown only now: copy it somewhere safe.'),
  ]);
}

// Integrations is the chat settings' section for incoming webhooks.
export const Integrations = {
  props: { chatId: String },
  setup(props) {
    const s = reactive({ hooks: [], canManage: false, name: '', busy: false, error: '', made: null });
    const base = () => `/api/chats/${encodeURIComponent(props.chatId)}/webhooks`;
    async function load() {
      try {
        const r = await request('GET', base());
        s.hooks = r.webhooks || [];
        s.canManage = !!r.canManage;
      } catch (err) { s.error = errorOf(err); }
    }
    onMounted(load);
    async function create() {
      const name = s.name.trim();
      if (!name) { s.error = 'Give the webhook a name'; return; }
      s.busy = true; s.error = '';
      try {
        const w = await request('POST', base(), { name });
        s.made = { url: w.url, box: secretBox('webhook-url', `URL of "${w.name}"`, w.url) };
        s.name = '';
        await load();
      } catch (err) { s.error = errorOf(err); } finally { s.busy = false; }
    }
    async function revoke(w) {
      s.error = '';
      try { await request('DELETE', `${base()}/${encodeURIComponent(w.id)}`); await load(); } catch (err) { s.error = errorOf(err); }
    }
    return () => h('fieldset', { class: 'field integrations', id: 'integrations' }, [
      h('legend', { class: 'label' }, 'Integrations'),
      h('p', { class: 'is-size-7 has-text-grey mb-2' }, 'Incoming webhooks let CI, monitoring and scripts post here as a bot (Slack-style JSON: {"text": "..."}).'),
      h('ul', { class: 'integration-list' }, s.hooks.map((w) => h('li', { key: w.id, class: ['integration', w.revoked ? 'is-revoked' : ''], 'data-id': w.id }, [
        icon('link', { size: 14 }),
        h('span', { class: 'integration-name ml-1' }, w.name),
        h('span', { class: 'is-size-7 has-text-grey ml-2', title: fullTime(w.created) }, w.revoked ? 'revoked' : 'since ' + new Date(w.created).toLocaleDateString()),
        !w.revoked ? h('button', { class: 'button is-small is-danger is-light ml-auto webhook-revoke', type: 'button', onClick: () => revoke(w) }, 'Revoke') : null,
      ]))),
      s.made ? h(s.made.box) : null,
      s.canManage ? h('div', { class: 'field has-addons mt-2' }, [
        h('div', { class: 'control is-expanded' }, h('input', {
          id: 'webhook-name', class: 'input is-small', type: 'text', maxlength: MAX_NAME, placeholder: 'Webhook name (e.g. CI)', value: s.name,
          onInput: (e) => { s.name = e.target.value; s.error = ''; },
          onKeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); create(); } },
        })),
        h('div', { class: 'control' }, h('button', { class: ['button', 'is-small', 'is-link', s.busy ? 'is-loading' : ''], type: 'button', id: 'webhook-create', onClick: create }, 'Create webhook')),
      ]) : null,
      s.error ? h('p', { class: 'help is-danger', role: 'alert' }, s.error) : null,
    ]);
  },
};

// TokensModal is the profile menu's "API tokens" dialog.
export const TokensModal = {
  setup() {
    const s = reactive({ tokens: [], allowed: true, name: '', scope: 'write', busy: false, error: '', made: null });
    const closeModal = () => { state.modal = null; };
    async function load() {
      try {
        const r = await request('GET', '/api/tokens');
        s.tokens = r.tokens || [];
        s.allowed = r.allowed !== false;
      } catch (err) {
        s.allowed = !(err && err.status === 403);
        s.error = s.allowed ? errorOf(err) : '';
      }
    }
    onMounted(load);
    async function create() {
      const name = s.name.trim();
      if (!name) { s.error = 'Give the token a name'; return; }
      s.busy = true; s.error = '';
      try {
        const t = await request('POST', '/api/tokens', { name, scope: s.scope });
        s.made = { box: secretBox('api-token', `Token "${t.name}"`, t.token) };
        s.name = '';
        await load();
      } catch (err) { s.error = errorOf(err); } finally { s.busy = false; }
    }
    async function revoke(t) {
      s.error = '';
      try { await request('DELETE', '/api/tokens/' + encodeURIComponent(t.id)); await load(); } catch (err) { s.error = errorOf(err); }
    }
    return () => h('div', { class: 'modal is-active', id: 'tokens-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'tokens-title' }, [
      h('div', { class: 'modal-background', onClick: closeModal }),
      h('div', { class: 'modal-card' }, [
        h('header', { class: 'modal-card-head' }, [
          h('p', { class: 'modal-card-title', id: 'tokens-title' }, 'API tokens'),
          h('button', { class: 'delete', 'aria-label': 'Close', onClick: closeModal }),
        ]),
        h('section', { class: 'modal-card-body' }, !s.allowed ? [h('p', 'This server does not give users API tokens. An administrator can make a bot account for you.')] : [
          h('p', { class: 'is-size-7 has-text-grey mb-2' }, 'A token lets a script act as you: send it as "Authorization: Bearer <token>" (see the API docs). Read-only tokens cannot post.'),
          h('ul', { class: 'integration-list' }, s.tokens.map((t) => h('li', { key: t.id, class: ['integration', t.revoked ? 'is-revoked' : ''], 'data-id': t.id }, [
            icon('key', { size: 14 }),
            h('span', { class: 'integration-name ml-1' }, t.name),
            h('span', { class: 'tag is-light ml-2' }, t.scope),
            h('span', { class: 'is-size-7 has-text-grey ml-2' }, t.revoked ? 'revoked' : t.lastUsed ? 'used ' + fullTime(t.lastUsed) : 'never used'),
            !t.revoked ? h('button', { class: 'button is-small is-danger is-light ml-auto token-revoke', type: 'button', onClick: () => revoke(t) }, 'Revoke') : null,
          ]))),
          s.made ? h(s.made.box) : null,
          h('div', { class: 'field has-addons mt-2' }, [
            h('div', { class: 'control is-expanded' }, h('input', {
              id: 'token-name', class: 'input is-small', type: 'text', maxlength: MAX_NAME, placeholder: 'What it is for', value: s.name,
              onInput: (e) => { s.name = e.target.value; s.error = ''; },
            })),
            h('div', { class: 'control' }, h('div', { class: 'select is-small' }, h('select', {
              id: 'token-scope', value: s.scope, onChange: (e) => { s.scope = e.target.value; },
            }, [h('option', { value: 'write' }, 'read and write'), h('option', { value: 'read' }, 'read only')]))),
            h('div', { class: 'control' }, h('button', { class: ['button', 'is-small', 'is-link', s.busy ? 'is-loading' : ''], type: 'button', id: 'token-create', onClick: create }, 'Create token')),
          ]),
          s.error ? h('p', { class: 'help is-danger', role: 'alert' }, s.error) : null,
        ]),
        h('footer', { class: 'modal-card-foot buttons is-right' }, h('button', { class: 'button', type: 'button', onClick: closeModal }, 'Close')),
      ]),
    ]);
  },
};

// botBadge marks a message from a bot account or a webhook.
export function botBadge(it) {
  return it.bot ? h('span', { class: 'tag is-info is-light msg-bot', title: 'Posted by a bot or an integration' }, 'bot') : null;
}
