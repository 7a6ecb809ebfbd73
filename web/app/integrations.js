// Integrations: a chat's incoming webhooks (in the chat settings dialog)
// and the signed-in user's API tokens (a dialog of the profile menu). A
// webhook's URL and a token are shown once, when made: the server keeps
// only their hashes. Everything shown is text (no markup from the server).

import { h, ref, reactive, onMounted } from '/vendor/vue.runtime.esm-browser.prod.js';
import { request } from './api.js';
import { state, errorText } from './store.js';
import { icon } from './icons.js';
import { fullTime } from './text.js';
import { t, dateFormat } from './i18n.js';

const MAX_NAME = 64; // the server's MaxIntegrationName

// A token's scopes, as the server names them (each has a label).
const SCOPES = ['write', 'read'];

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
      }, copied.value ? t('action.copied') : t('action.copy'))),
    ]),
    h('p', { class: 'help' }, t('integrations.shownOnce')),
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
      } catch (err) { s.error = errorText(err); }
    }
    onMounted(load);
    async function create() {
      const name = s.name.trim();
      if (!name) { s.error = t('integrations.needWebhookName'); return; }
      s.busy = true; s.error = '';
      try {
        const w = await request('POST', base(), { name });
        s.made = { url: w.url, box: secretBox('webhook-url', t('integrations.webhookUrl', { name: w.name }), w.url) };
        s.name = '';
        await load();
      } catch (err) { s.error = errorText(err); } finally { s.busy = false; }
    }
    async function revoke(w) {
      s.error = '';
      try { await request('DELETE', `${base()}/${encodeURIComponent(w.id)}`); await load(); } catch (err) { s.error = errorText(err); }
    }
    return () => h('fieldset', { class: 'field integrations', id: 'integrations' }, [
      h('legend', { class: 'label' }, t('integrations.title')),
      h('p', { class: 'is-size-7 has-text-grey mb-2' }, t('integrations.webhooksHelp')),
      h('ul', { class: 'integration-list' }, s.hooks.map((w) => h('li', { key: w.id, class: ['integration', w.revoked ? 'is-revoked' : ''], 'data-id': w.id }, [
        icon('link', { size: 14 }),
        h('span', { class: 'integration-name ml-1' }, w.name),
        h('span', { class: 'is-size-7 has-text-grey ml-2', title: fullTime(w.created) },
          w.revoked ? t('integrations.revoked') : t('integrations.since', { date: dateFormat('dateMedium', { dateStyle: 'medium' }).format(new Date(w.created)) })),
        !w.revoked ? h('button', { class: 'button is-small is-danger is-light ml-auto webhook-revoke', type: 'button', onClick: () => revoke(w) }, t('action.revoke')) : null,
      ]))),
      s.made ? h(s.made.box) : null,
      s.canManage ? h('div', { class: 'field has-addons mt-2' }, [
        h('div', { class: 'control is-expanded' }, h('input', {
          id: 'webhook-name', class: 'input is-small', type: 'text', maxlength: MAX_NAME, placeholder: t('integrations.webhookName'), value: s.name,
          onInput: (e) => { s.name = e.target.value; s.error = ''; },
          onKeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); create(); } },
        })),
        h('div', { class: 'control' }, h('button', { class: ['button', 'is-small', 'is-link', s.busy ? 'is-loading' : ''], type: 'button', id: 'webhook-create', onClick: create }, t('integrations.createWebhook'))),
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
        s.error = s.allowed ? errorText(err) : '';
      }
    }
    onMounted(load);
    async function create() {
      const name = s.name.trim();
      if (!name) { s.error = t('integrations.needTokenName'); return; }
      s.busy = true; s.error = '';
      try {
        const made = await request('POST', '/api/tokens', { name, scope: s.scope });
        s.made = { box: secretBox('api-token', t('integrations.tokenValue', { name: made.name }), made.token) };
        s.name = '';
        await load();
      } catch (err) { s.error = errorText(err); } finally { s.busy = false; }
    }
    async function revoke(token) {
      s.error = '';
      try { await request('DELETE', '/api/tokens/' + encodeURIComponent(token.id)); await load(); } catch (err) { s.error = errorText(err); }
    }
    return () => h('div', { class: 'modal is-active', id: 'tokens-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'tokens-title' }, [
      h('div', { class: 'modal-background', onClick: closeModal }),
      h('div', { class: 'modal-card' }, [
        h('header', { class: 'modal-card-head' }, [
          h('p', { class: 'modal-card-title', id: 'tokens-title' }, t('integrations.tokens')),
          h('button', { class: 'delete', 'aria-label': t('action.close'), onClick: closeModal }),
        ]),
        h('section', { class: 'modal-card-body' }, !s.allowed ? [h('p', t('integrations.noTokens'))] : [
          h('p', { class: 'is-size-7 has-text-grey mb-2' }, t('integrations.tokensHelp')),
          h('ul', { class: 'integration-list' }, s.tokens.map((token) => h('li', { key: token.id, class: ['integration', token.revoked ? 'is-revoked' : ''], 'data-id': token.id }, [
            icon('key', { size: 14 }),
            h('span', { class: 'integration-name ml-1' }, token.name),
            h('span', { class: 'tag is-light ml-2' }, SCOPES.includes(token.scope) ? t('integrations.scope.' + token.scope) : token.scope),
            h('span', { class: 'is-size-7 has-text-grey ml-2' }, token.revoked ? t('integrations.revoked')
              : token.lastUsed ? t('integrations.used', { time: fullTime(token.lastUsed) }) : t('integrations.neverUsed')),
            !token.revoked ? h('button', { class: 'button is-small is-danger is-light ml-auto token-revoke', type: 'button', onClick: () => revoke(token) }, t('action.revoke')) : null,
          ]))),
          s.made ? h(s.made.box) : null,
          h('div', { class: 'field has-addons mt-2' }, [
            h('div', { class: 'control is-expanded' }, h('input', {
              id: 'token-name', class: 'input is-small', type: 'text', maxlength: MAX_NAME, placeholder: t('integrations.tokenName'), value: s.name,
              onInput: (e) => { s.name = e.target.value; s.error = ''; },
            })),
            h('div', { class: 'control' }, h('div', { class: 'select is-small' }, h('select', {
              id: 'token-scope', value: s.scope, onChange: (e) => { s.scope = e.target.value; },
            }, SCOPES.map((scope) => h('option', { value: scope }, t('integrations.scope.' + scope)))))),
            h('div', { class: 'control' }, h('button', { class: ['button', 'is-small', 'is-link', s.busy ? 'is-loading' : ''], type: 'button', id: 'token-create', onClick: create }, t('integrations.createToken'))),
          ]),
          s.error ? h('p', { class: 'help is-danger', role: 'alert' }, s.error) : null,
        ]),
        h('footer', { class: 'modal-card-foot buttons is-right' }, h('button', { class: 'button', type: 'button', onClick: closeModal }, t('action.close'))),
      ]),
    ]);
  },
};

// botBadge marks a message from a bot account or a webhook.
export function botBadge(it) {
  return it.bot ? h('span', { class: 'tag is-info is-light msg-bot', title: t('integrations.botTitle') }, t('integrations.bot')) : null;
}
