// Files in messages: the composer's uploads (by button, drag and drop or
// paste, several at once, each with its progress and a way to cancel) and
// the attachments of a message (images as thumbnails that open full size in
// a viewer, other files as cards that download under their original name).
//
// Everything a user wrote (file names, types) is set as text, never markup.
import { h, reactive } from '/vendor/vue.runtime.esm-browser.prod.js';
import { icon } from './icons.js';
import { t } from './i18n.js';

// safeURL keeps only the server's own file URLs: a message names files
// the server described, and nothing else may become a link or an image.
function safeURL(u) {
  return typeof u === 'string' && /^\/api\/files\/[a-z0-9]+(\/thumb)?$/.test(u) ? u : '';
}

// formatSize is a byte count for people.
export function formatSize(n) {
  if (!(n >= 0)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

// uploadFile posts one file to the chat with XMLHttpRequest (fetch reports
// no upload progress). onProgress gets the bytes sent; the promise gives the
// server's answer, or rejects with an Error whose message is the server's.
function uploadFile(chatId, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 && body && body.id) resolve(body);
      else reject(new Error((body && body.message) || t('attach.failed', { status: xhr.status })));
    };
    xhr.onerror = () => reject(new Error(t('error.unreachable')));
    xhr.onabort = () => reject(new Error('cancelled'));
  });
  xhr.open('POST', `/api/chats/${encodeURIComponent(chatId)}/files`);
  const form = new FormData();
  form.append('file', file, file.name || 'pasted');
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}

let nextKey = 1;

// Uploads are the files being attached to the next message of one chat.
class Uploads {
  constructor(chatId) {
    this.chatId = chatId;
    this.items = reactive([]); // {key, name, size, sent, status: uploading|done|failed, error, file, abort}
  }

  // add starts uploading every file of a FileList or array.
  add(files) {
    for (const f of files) {
      const it = reactive({ key: nextKey++, name: f.name || 'pasted', size: f.size, sent: 0, status: 'uploading', error: '', file: null, abort: null });
      this.items.push(it);
      const up = uploadFile(this.chatId, f, (n) => { it.sent = n; });
      it.abort = up.abort;
      up.done.then((answer) => { it.status = 'done'; it.file = answer; it.sent = it.size; },
        (err) => { it.status = 'failed'; it.error = err.message; });
    }
  }

  // remove cancels an upload in flight and takes the file off the message.
  remove(key) {
    const i = this.items.findIndex((x) => x.key === key);
    if (i < 0) return;
    if (this.items[i].status === 'uploading') this.items[i].abort();
    this.items.splice(i, 1);
  }

  get busy() { return this.items.some((x) => x.status === 'uploading'); }

  // ready lists the uploaded files, as the server described them.
  ready() { return this.items.filter((x) => x.status === 'done').map((x) => x.file); }

  clear() { this.items.splice(0); }
}

const perChat = new Map();

// uploadsFor returns the uploads of a chat's composer, kept while the user
// looks at another chat.
export function uploadsFor(chatId) {
  if (!perChat.has(chatId)) perChat.set(chatId, new Uploads(chatId));
  return perChat.get(chatId);
}

// composerHandlers make the composer take files dropped on it or pasted.
export function composerHandlers(up) {
  return {
    onDragover: (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault(); },
    onDrop: (e) => {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      up.add(e.dataTransfer.files);
    },
    onPaste: (e) => {
      const files = e.clipboardData ? [...e.clipboardData.files] : [];
      if (!files.length) return; // text is pasted as usual
      e.preventDefault();
      up.add(files);
    },
  };
}

// attachButton opens the file picker; several files may be chosen.
export function attachButton(up) {
  return h('label', { class: 'button attach-button', title: t('attach.files'), 'aria-label': t('attach.files') }, [
    icon('paperclip'),
    h('input', {
      type: 'file', multiple: true, class: 'attach-input',
      onChange: (e) => { up.add(e.target.files); e.target.value = ''; },
    }),
  ]);
}

// renderUploads is the tray above the composer: one row per file with its
// progress, and a button that cancels it (or takes it off the message).
export function renderUploads(up) {
  if (!up.items.length) return null;
  return h('ul', { class: 'upload-tray', 'aria-label': t('attach.attached') }, up.items.map((it) => h('li', {
    key: it.key, class: ['upload', 'is-' + it.status],
  }, [
    h('span', { class: 'upload-name' }, it.name),
    h('span', { class: 'upload-size' }, formatSize(it.size)),
    it.status === 'failed' ? h('span', { class: 'upload-error has-text-danger', role: 'alert' }, it.error)
      : h('progress', { class: 'progress is-small is-link upload-progress', max: it.size || 1, value: it.sent, 'aria-label': t('attach.uploading', { name: it.name }) }),
    h('button', {
      class: 'delete is-small upload-cancel', type: 'button',
      'aria-label': t(it.status === 'uploading' ? 'attach.cancel' : 'attach.remove', { name: it.name }), onClick: () => up.remove(it.key),
    }),
  ])));
}

// renderAttachments shows a message's files: images as thumbnails that open
// the viewer, other files as cards that download under their own name.
export function renderAttachments(files) {
  if (!Array.isArray(files) || !files.length) return null;
  return h('div', { class: 'attachments' }, files.map((f) => {
    const url = safeURL(f.url);
    if (!url) return null;
    const thumb = safeURL(f.thumbUrl);
    if (thumb) {
      return h('button', { key: f.id, class: 'attach-thumb', type: 'button', title: f.name, onClick: () => openViewer(f) },
        h('img', { src: thumb, alt: f.name, loading: 'lazy', width: f.width > 0 ? Math.min(f.width, 240) : null }));
    }
    return h('a', { key: f.id, class: 'attach-card box', href: url, download: f.name || 'file' }, [
      icon('file', { size: 28 }),
      h('span', { class: 'attach-meta' }, [
        h('span', { class: 'attach-name' }, f.name),
        h('span', { class: 'attach-info' }, `${formatSize(f.size)} · ${f.type || t('attach.file')}`),
      ]),
    ]);
  }));
}

// The viewer is one <dialog>, made on first use: the image full size, its
// name, a download link and a close button.
let viewer = null;

function openViewer(f) {
  if (!viewer) {
    viewer = document.createElement('dialog');
    viewer.className = 'file-viewer';
    viewer.setAttribute('aria-label', t('attach.image'));
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'delete is-large viewer-close';
    close.setAttribute('aria-label', t('action.close'));
    close.addEventListener('click', () => viewer.close());
    const img = document.createElement('img');
    img.className = 'viewer-image';
    const caption = document.createElement('p');
    caption.className = 'viewer-caption';
    const name = document.createElement('span');
    const link = document.createElement('a');
    link.className = 'viewer-download';
    link.textContent = t('attach.download');
    caption.append(name, ' · ', link);
    viewer.append(close, img, caption);
    // A click on the backdrop (the dialog itself, not its content) closes it.
    viewer.addEventListener('click', (e) => { if (e.target === viewer) viewer.close(); });
    document.body.append(viewer);
  }
  const [, img, caption] = viewer.children;
  img.src = safeURL(f.url);
  img.alt = f.name;
  caption.firstChild.textContent = f.name;
  const link = caption.lastChild;
  link.href = safeURL(f.url);
  link.download = f.name || 'image';
  viewer.showModal();
}
