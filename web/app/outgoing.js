// The "Outgoing webhooks" section of a chat's settings (docs/api.md,
// "Outgoing webhooks"): the chat's owner, moderators and admins list the
// webhooks, create one (its signing secret is shown once, right after)
// and delete them. The server decides who may; everything shown here is
// text.
import { h, ref, reactive, onMounted } from '/vendor/vue.runtime.esm-browser.prod.js';
import { request } from './api.js';
import { icon } from './icons.js';
import { errorText } from './store.js';
import { t } from './i18n.js';

// Budgets of the form; the server has its own (chatr.MaxOutgoing*).
const MAX_NAME = 64;
const MAX_URL = 2048;
const MAX_TRIGGERS = 10;

const hooksPath = (chatId) => `/api/chats/${encodeURIComponent(chatId)}/outgoing-webhooks`;

export const outgoingApi = {
  list: async (chatId) => (await request('GET', hooksPath(chatId))).webhooks || [],
  create: (chatId, hook) => request('POST', hooksPath(chatId), hook),
  remove: (chatId, id) => request('DELETE', `${hooksPath(chatId)}/${encodeURIComponent(id)}`),
};

// triggerWords splits what was typed into words: by commas and spaces.
function triggerWords(s) {
  return [...new Set(s.split(/[\s,]+/).filter(Boolean))];
}

export const OutgoingWebhooks = {
  props: { chatId: String },
  setup(props) {
    const hooks = ref([]);
    const form = reactive({ name: '', url: '', triggers: '' });
    const created = ref(null); // the webhook just created, with its secret
    const copied = ref(false);
    const busy = ref(false);
    const error = ref('');

    async function load() {
      try {
        hooks.value = await outgoingApi.list(props.chatId);
      } catch (err) {
        error.value = t('outgoing.loadFailed', { error: errorText(err) });
      }
    }
    onMounted(load);

    async function create(e) {
      e.preventDefault();
      const words = triggerWords(form.triggers);
      if (!form.name.trim()) { error.value = t('outgoing.needName'); return; }
      if (!/^https?:\/\//i.test(form.url.trim())) { error.value = t('outgoing.badUrl'); return; }
      if (!words.length || words.length > MAX_TRIGGERS) { error.value = t('outgoing.triggerCount', { max: MAX_TRIGGERS }); return; }
      busy.value = true;
      error.value = '';
      copied.value = false;
      try {
        created.value = await outgoingApi.create(props.chatId, { name: form.name.trim(), url: form.url.trim(), triggerWords: words });
        form.name = form.url = form.triggers = '';
        await load();
      } catch (err) {
        error.value = t('outgoing.createFailed', { error: errorText(err) });
      } finally {
        busy.value = false;
      }
    }
    async function remove(hook) {
      try {
        await outgoingApi.remove(props.chatId, hook.id);
        if (created.value && created.value.id === hook.id) created.value = null;
        await load();
      } catch (err) {
        error.value = t('outgoing.deleteFailed', { error: errorText(err) });
      }
    }
    async function copy() {
      try {
        await navigator.clipboard.writeText(created.value.secret);
        copied.value = true;
      } catch {
        const el = document.getElementById('outgoing-secret');
        if (el) { el.focus(); el.select(); }
      }
    }
    function field(id, label, key, attrs) {
      return h('div', { class: 'field' }, [
        h('label', { class: 'label', for: id }, label),
        h('input', { id, class: 'input is-small', type: 'text', value: form[key], ...attrs, onInput: (e) => { form[key] = e.target.value; error.value = ''; } }),
      ]);
    }

    return () => h('section', { class: 'outgoing-webhooks', id: 'outgoing-webhooks' }, [
      h('h3', { class: 'invite-list-title' }, t('outgoing.title')),
      h('p', { class: 'is-size-7 has-text-grey' }, t('outgoing.help')),
      hooks.value.length ? h('ul', { class: 'invite-list', id: 'outgoing-list' }, hooks.value.map((hook) => h('li', {
        key: hook.id, class: 'invite-row', 'data-webhook-id': hook.id,
      }, [
        h('div', { class: 'invite-row-text' }, [
          h('div', [h('strong', hook.name), ' · ', (hook.triggerWords || []).join(' ')]),
          h('div', { class: 'is-size-7 has-text-grey outgoing-url' }, hook.url),
        ]),
        h('button', { class: 'button is-small is-danger is-light outgoing-delete', type: 'button', onClick: () => remove(hook) }, t('action.delete')),
      ]))) : h('p', { class: 'is-size-7 has-text-grey', id: 'outgoing-none' }, t('outgoing.none')),
      created.value ? h('div', { class: 'created-link', id: 'outgoing-created' }, [
        h('p', { class: 'is-size-7' }, t('outgoing.secret', { name: created.value.name })),
        h('div', { class: 'field has-addons' }, [
          h('div', { class: 'control is-expanded' }, h('input', { id: 'outgoing-secret', class: 'input is-small', readonly: true, value: created.value.secret, onFocus: (e) => e.target.select() })),
          h('div', { class: 'control' }, h('button', { class: 'button is-small is-link', type: 'button', id: 'outgoing-copy', onClick: copy }, copied.value ? t('action.copied') : t('action.copy'))),
        ]),
      ]) : null,
      h('form', { id: 'outgoing-form', class: 'mt-3', onSubmit: create }, [
        field('outgoing-name', t('outgoing.name'), 'name', { maxlength: MAX_NAME, placeholder: t('outgoing.namePlaceholder') }),
        field('outgoing-url', t('outgoing.url'), 'url', { maxlength: MAX_URL, placeholder: t('outgoing.urlPlaceholder') }),
        field('outgoing-triggers', t('outgoing.triggers'), 'triggers', { maxlength: 700, placeholder: t('outgoing.triggersPlaceholder') }),
        error.value ? h('p', { class: 'help is-danger', role: 'alert', id: 'outgoing-error' }, error.value) : null,
        h('button', { class: ['button', 'is-small', 'is-primary', busy.value ? 'is-loading' : ''], type: 'submit', id: 'outgoing-create' },
          [icon('link', { size: 14 }), h('span', { class: 'ml-1' }, t('outgoing.add'))]),
      ]),
    ]);
  },
};
