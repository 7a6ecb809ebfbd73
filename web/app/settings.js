// The user's settings: theme, notifications (globally and per chat), a
// notification sound, message density and language. They are kept in
// localStorage under a key per user and apply at once; the theme and the
// language also under a key of the device, so that the sign-in page looks
// as the last user left it.
import { h, reactive, watch } from '/vendor/vue.runtime.esm-browser.prod.js';
import { t, setLanguage, LANGUAGES, browserLanguage } from './i18n.js';

const CHOICES = {
  theme: ['system', 'light', 'dark'],
  notify: ['all', 'mentions', 'none'],
  density: ['comfortable', 'compact'],
  language: ['auto', ...Object.keys(LANGUAGES)],
};
const DEFAULTS = { theme: 'system', notify: 'mentions', sound: false, density: 'comfortable', language: 'auto' };
const MAX_CHAT_SETTINGS = 500; // per-chat notification levels kept
const DEVICE_KEY = 'chatr.look';

export const settings = reactive({ ...DEFAULTS, chats: {} });
let userKey = '';

// valid keeps what a stored object holds of the known settings.
function valid(saved) {
  const out = { ...DEFAULTS, chats: {} };
  if (!saved || typeof saved !== 'object') return out;
  for (const [k, list] of Object.entries(CHOICES)) if (list.includes(saved[k])) out[k] = saved[k];
  out.sound = saved.sound === true;
  if (saved.chats && typeof saved.chats === 'object') {
    for (const [id, level] of Object.entries(saved.chats).slice(0, MAX_CHAT_SETTINGS)) {
      if (CHOICES.notify.includes(level)) out.chats[id] = level;
    }
  }
  return out;
}

function read(key) {
  try { return JSON.parse(localStorage.getItem(key)); } catch { return null; }
}

function write(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage disabled */ }
}

// loadSettings reads the settings of a user (at sign-in) and applies them.
export function loadSettings(userId) {
  userKey = 'chatr.settings.' + userId;
  Object.assign(settings, valid(read(userKey)));
}

// apply makes the page follow the settings.
function apply() {
  const root = document.documentElement;
  if (settings.theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = settings.theme;
  const meta = document.querySelector('meta[name="color-scheme"]');
  if (meta) meta.content = settings.theme === 'system' ? 'light dark' : settings.theme;
  root.classList.toggle('is-compact', settings.density === 'compact');
  setLanguage(settings.language);
}

Object.assign(settings, valid({ ...read(DEVICE_KEY) }));
apply();
watch(settings, () => {
  apply();
  if (userKey) write(userKey, settings);
  write(DEVICE_KEY, { theme: settings.theme, language: settings.language });
}, { deep: true });

// notifyLevel is what notifies in a chat: 'all', 'mentions' (mentions and
// direct messages) or 'none'.
export function notifyLevel(chatId) {
  return settings.chats[chatId] || settings.notify;
}

// setChatNotify sets a chat's own level; '' follows the global setting.
export function setChatNotify(chatId, level) {
  if (!CHOICES.notify.includes(level)) { delete settings.chats[chatId]; return; }
  if (!(chatId in settings.chats) && Object.keys(settings.chats).length >= MAX_CHAT_SETTINGS) return;
  settings.chats[chatId] = level;
}

// notable tells whether a message from someone else is one the user wants
// to hear of: in a direct message or mentioning them, or any in a chat set
// to 'all'.
export function notable(chatId, { direct, mentioned }) {
  const level = notifyLevel(chatId);
  if (level === 'none') return false;
  return level === 'all' || direct || mentioned;
}

// ---------- the sound ----------

let audio = null;
export const sounds = { played: 0 };

// playSound plays a short two-note chime, made with WebAudio (no file),
// when the sound is on.
export function playSound(force = false) {
  if (!settings.sound && !force) return;
  sounds.played++;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.12, now + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.32);
    gain.connect(audio.destination);
    for (const [freq, at] of [[880, 0], [1318.5, 0.09]]) {
      const osc = audio.createOscillator();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(freq, now + at);
      osc.connect(gain);
      osc.start(now + at);
      osc.stop(now + 0.34);
    }
  } catch { /* no audio in this context */ }
}

// ---------- the dialog and the chat menu's items ----------

// radios is a group of radio buttons bound to settings[name].
function radios(name, legend, options) {
  return h('fieldset', { class: 'field settings-group', id: 'settings-' + name }, [
    h('legend', { class: 'label' }, legend),
    h('div', { class: 'settings-options' }, options.map(([value, label]) => h('label', {
      class: ['settings-option', settings[name] === value ? 'is-picked' : ''],
    }, [
      h('input', {
        type: 'radio', name: 'settings-' + name, value, id: `settings-${name}-${value}`, checked: settings[name] === value,
        onChange: () => { settings[name] = value; },
      }),
      h('span', label),
    ]))),
  ]);
}

// settingsBody is the content of the settings dialog; permission is what
// to show about the browser's permission to notify (or null).
export function settingsBody(permission = null) {
  return [
    radios('theme', t('settings.theme'), CHOICES.theme.map((v) => [v, t('settings.theme.' + v)])),
    radios('notify', t('settings.notifications'), CHOICES.notify.map((v) => [v, t('settings.notify.' + v)])),
    h('p', { class: 'help settings-help' }, t('settings.notify.help')),
    permission,
    h('div', { class: 'field settings-sound' }, [
      h('label', { class: 'checkbox', for: 'settings-sound' }, [
        h('input', { type: 'checkbox', id: 'settings-sound', checked: settings.sound, onChange: (e) => { settings.sound = e.target.checked; } }),
        h('span', t('settings.sound')),
      ]),
      h('button', { class: 'button is-small is-text', type: 'button', id: 'settings-sound-test', onClick: () => playSound(true) }, t('settings.soundTest')),
    ]),
    radios('density', t('settings.density'), CHOICES.density.map((v) => [v, t('settings.density.' + v)])),
    radios('language', t('settings.language'), CHOICES.language.map((v) =>
      [v, v === 'auto' ? t('settings.language.auto', { name: LANGUAGES[browserLanguage()] }) : LANGUAGES[v]])),
  ];
}

// chatNotifyItems are the chat menu's choices of the chat's notification
// level (menu item radios); close runs after a choice.
export function chatNotifyItems(chatId, close) {
  const own = settings.chats[chatId] || '';
  const item = (value, label) => h('button', {
    class: ['dropdown-item', 'chat-notify-item', own === value ? 'is-active' : ''], role: 'menuitemradio',
    'aria-checked': String(own === value), 'data-level': value || 'default',
    onClick: () => { setChatNotify(chatId, value); close(); },
  }, label);
  return [
    h('p', { class: 'dropdown-item menu-label chat-notify-label' }, t('chatNotify.label')),
    item('', t('chatNotify.default', { level: t('settings.notify.' + settings.notify) })),
    ...CHOICES.notify.map((v) => item(v, t('settings.notify.' + v))),
  ];
}
