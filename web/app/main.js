// Entry point: mounts the app and starts the sign-in and connection steps.
import { createApp } from '/vendor/vue.runtime.esm-browser.prod.js';
import { App } from './ui.js';
import { boot, dropConnection, connectionStats } from './store.js';
import { startRooms } from './room.js';

createApp(App).mount('#app');
startRooms();
boot();

window.chatr = Object.freeze({ dropConnection, connectionStats });
