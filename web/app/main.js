// Entry point: mounts the app and starts the sign-in and connection steps.
import { createApp } from '/vendor/vue.runtime.esm-browser.prod.js';
import { App } from './ui.js';
import { boot, dropConnection, connectionStats, sendMessage, state } from './store.js';
import { startRooms } from './room.js';
import { installA11y } from './a11y.js';
import { registerServiceWorker } from './offline.js';
import { sounds } from './settings.js';

createApp(App).mount('#app');
startRooms();
installA11y();
registerServiceWorker();
boot();

// For tests and the console: the app is one bundled module, so importing
// /app/store.js from outside would load a second, unconnected copy.
window.chatr = Object.freeze({
  dropConnection, connectionStats, send: (text) => sendMessage(state.active, text),
  soundsPlayed: () => sounds.played,
});
