// The outbox: chat messages written but not yet stored by the server. It is
// kept in localStorage (per user), so that a lost connection or a reload
// keeps them, and sent in the order written once the connection is back.
// Each message carries a clientId that the server stores once per user: a
// resend after a lost ack answers "Duplicate" instead of storing a copy, and
// the delivered message echoes the clientId, which confirms the entry.
import { reactive } from '/vendor/vue.runtime.esm-browser.prod.js';
import { t } from './i18n.js';

const RETRY_MS = 3000;       // a send that timed out is tried again after this

export class Outbox {
  constructor() {
    this.entries = reactive([]); // {clientId, chatId, text, files, time, status: queued|sending|failed, error}
    this.key = null;
    this.send = null;    // async (entry) => {ok} | {retry} | {error}
    this.canSend = () => false;
    this.flushing = false;
    this.retryTimer = null;
  }

  // open loads what this user left unsent, on this device.
  open(key, send, canSend) {
    this.key = key;
    this.send = send;
    this.canSend = canSend;
    let saved = [];
    try { saved = JSON.parse(localStorage.getItem(key)) || []; } catch { /* none */ }
    for (const e of Array.isArray(saved) ? saved : []) {
      if (!e || typeof e.clientId !== 'string' || typeof e.chatId !== 'string' || typeof e.text !== 'string') continue;
      if (this.entries.some((x) => x.clientId === e.clientId)) continue;
      const replyTo = Number.isSafeInteger(e.replyTo) && e.replyTo > 0 ? e.replyTo : 0;
      const files = Array.isArray(e.files) ? e.files : [];
      this.entries.push({ clientId: e.clientId, chatId: e.chatId, text: e.text, replyTo, files, time: e.time || new Date().toISOString(), status: 'queued', error: '' });
    }
  }

  save() {
    if (!this.key) return;
    const keep = this.entries.map(({ clientId, chatId, text, replyTo, files, time }) => ({ clientId, chatId, text, replyTo, files, time }));
    try {
      if (keep.length) localStorage.setItem(this.key, JSON.stringify(keep));
      else localStorage.removeItem(this.key);
    } catch { /* private mode: kept in memory only */ }
  }

  add(chatId, text, replyTo = 0, files = []) {
    const e = { clientId: crypto.randomUUID(), chatId, text, replyTo, files, time: new Date().toISOString(), status: 'queued', error: '' };
    this.entries.push(e);
    this.save();
    this.flush();
    return e;
  }

  forChat(chatId) {
    return this.entries.filter((e) => e.chatId === chatId);
  }

  // confirmed removes the entry whose message the server delivered or
  // stored; also used to discard one.
  confirmed(clientId) {
    const i = this.entries.findIndex((e) => e.clientId === clientId);
    if (i < 0) return;
    this.entries.splice(i, 1);
    this.save();
  }

  retry(clientId) {
    const e = this.entries.find((x) => x.clientId === clientId);
    if (!e || e.status !== 'failed') return;
    e.status = 'queued';
    e.error = '';
    this.flush();
  }

  // flush sends the queued entries one at a time, in the order written.
  async flush() {
    if (this.flushing || !this.send) return;
    this.flushing = true;
    try {
      while (this.canSend()) {
        const e = this.entries.find((x) => x.status === 'queued');
        if (!e) return;
        e.status = 'sending';
        const r = await this.send(e);
        if (!this.entries.includes(e)) continue; // its echo came first
        if (r.ok) {
          // Stored: the message itself arrives on the socket (or from
          // history); a server that echoes no clientId must not leave a copy.
          this.confirmed(e.clientId);
        } else if (r.retry) {
          e.status = 'queued';
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.flush(), RETRY_MS);
          return;
        } else {
          e.status = 'failed';
          e.error = r.error || t('outbox.notSent');
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
