// Keyboard and focus behaviour shared by every screen, installed once for
// the page rather than written into each component:
//
// - a dialog (role="dialog" with aria-modal) keeps the focus inside it while
//   it is open (Tab and Shift+Tab wrap around) and gives it back, on close,
//   to the control that had it before;
// - a dialog never opens with the focus on a destructive button (one
//   marked is-danger): the focus goes to a safe control instead;
// - the chat tabs follow the ARIA tab pattern: one tab stop, the arrow keys,
//   Home and End move between the tabs and bring the chat forward, Delete
//   closes the tab;
// - the sidebar's chat lists move with the Up and Down arrows, Home and End.

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

// openDialog is the dialog on top, or null.
function openDialog() {
  const all = document.querySelectorAll('[role="dialog"][aria-modal="true"]');
  return all.length ? all[all.length - 1] : null;
}

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((e) => e.getClientRects().length > 0);
}

// safeFocus moves the focus into a dialog that does not hold it, or off a
// destructive button: to the first field, else the first control that is
// not destructive (the dialog's close button last).
function safeFocus(dialog) {
  const a = document.activeElement;
  if (a && dialog.contains(a) && !a.classList.contains('is-danger')) return;
  const all = focusables(dialog);
  const safe = all.filter((e) => !e.classList.contains('is-danger') && !e.classList.contains('delete'));
  const target = safe.find((e) => e.matches('input, textarea, select')) || safe[0] || all.find((e) => !e.classList.contains('is-danger'));
  if (target) target.focus();
}

// trapDialogs keeps the focus in the dialog on top and gives it back.
function trapDialogs() {
  let dialog = null;      // the dialog being watched
  let opener = null;      // who had the focus before it opened, and its ancestors
  let outside = [];       // the last element focused outside any dialog, and its ancestors
  let movedTo = null;     // where the app moved the focus while a dialog was open (a new chat's composer)

  document.addEventListener('focusin', (e) => {
    const d = openDialog();
    if (!d) { outside = ancestry(e.target); return; }
    if (!d.contains(e.target)) { movedTo = e.target; safeFocus(d); }
  });

  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const d = openDialog();
    if (!d) return;
    const all = focusables(d);
    if (!all.length) { e.preventDefault(); return; }
    const first = all[0];
    const last = all[all.length - 1];
    const a = document.activeElement;
    if (!d.contains(a)) { e.preventDefault(); first.focus(); } else if (e.shiftKey && a === first) { e.preventDefault(); last.focus(); } else if (!e.shiftKey && a === last) { e.preventDefault(); first.focus(); }
  }, true);

  // A dialog's own focus() runs after it is drawn; this looks once the
  // DOM has settled, then corrects a focus that is missing or unsafe.
  const check = () => {
    const d = openDialog();
    if (d && d !== dialog) {
      // The opener may be gone already (a menu item whose menu closed as
      // the dialog opened): its ancestors tell where the focus returns.
      if (!dialog) opener = outside.length ? outside : ancestry(document.activeElement);
      if (!dialog) movedTo = null;
      dialog = d;
      requestAnimationFrame(() => { if (openDialog() === d) safeFocus(d); });
    } else if (!d && dialog) {
      dialog = null;
      // The focus goes where the app sent it meanwhile (what the dialog
      // made, such as a new chat's composer), else back to the opener;
      // a focus the app has already placed is left alone.
      const back = movedTo && movedTo.isConnected ? movedTo : giveBack(opener || []);
      opener = null;
      movedTo = null;
      const now = document.activeElement;
      if (back && (!now || now === document.body || !now.isConnected)) back.focus();
    }
  };
  new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
}

// ancestry is an element and its ancestors, nearest first.
function ancestry(e) {
  const list = [];
  for (; e && e !== document.body; e = e.parentElement) list.push(e);
  return list;
}

// giveBack finds where the focus returns to: the opener, or when it has
// gone (a menu item whose menu closed) the first control of its nearest
// ancestor still on the page (the menu's button).
function giveBack(chain) {
  for (const e of chain) {
    if (!e.isConnected) continue;
    if (e.matches(FOCUSABLE)) return e;
    const inside = focusables(e);
    if (inside.length) return inside[0];
  }
  return null;
}

// moveIn handles the arrow keys, Home and End in a list of items: it
// returns the item to move to, or null when the key is not one of them.
function moveIn(items, current, key, prev, next) {
  const i = items.indexOf(current);
  if (i < 0) return null;
  if (key === prev) return items[(i - 1 + items.length) % items.length];
  if (key === next) return items[(i + 1) % items.length];
  if (key === 'Home') return items[0];
  if (key === 'End') return items[items.length - 1];
  return null;
}

// arrowKeys moves between the chat tabs (left, right: the tab pattern with
// automatic activation) and between the sidebar's chats (up, down).
function arrowKeys() {
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || openDialog()) return;
    const t = e.target;
    if (!(t instanceof Element)) return;
    if (t.getAttribute('role') === 'tab') {
      const list = t.closest('[role="tablist"]');
      if (e.key === 'Delete') {
        const close = t.parentElement && t.parentElement.querySelector('.tab-close');
        if (close) { e.preventDefault(); close.click(); }
        return;
      }
      const to = list && moveIn([...list.querySelectorAll('[role="tab"]')], t, e.key, 'ArrowLeft', 'ArrowRight');
      if (!to) return;
      e.preventDefault();
      to.focus();
      to.click();
      // The chat brought forward may take the focus for its composer: the
      // tab keeps it, as the pattern wants.
      requestAnimationFrame(() => { if (to.isConnected) to.focus(); });
      return;
    }
    if (t.classList.contains('side-main')) {
      const to = moveIn([...document.querySelectorAll('#sidebar .side-list .side-main')], t, e.key, 'ArrowUp', 'ArrowDown');
      if (!to) return;
      e.preventDefault();
      to.focus();
    }
  });
}

let installed = false;

// installA11y sets up the page-wide keyboard and focus behaviour.
export function installA11y() {
  if (installed) return;
  installed = true;
  trapDialogs();
  arrowKeys();
}
