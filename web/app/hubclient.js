// HubClient speaks the reliable Web PubSub JSON protocol
// (json.reliable.webpubsub.azure.v1, see PROTOCOL.md) to the Chatr hub.
//
// It keeps one logical connection alive across dropped sockets: it
// acknowledges sequence ids, recovers its session after a drop, and when the
// server refuses recovery (close 1008, or a restarted server) it starts a
// fresh connection with a new URL and reports {fresh: true} so that the
// application can re-join its chats and fill gaps from history.
//
// Events (addEventListener): "state" (detail: "connecting" | "connected" |
// "reconnecting" | "stopped"), "open" (detail: {fresh}), "message" (detail:
// the frame), "unauthorized" (the URL provider failed with 401), "banned"
// (the server closed with 1008 "banned": the client stops for good).

export const SUBPROTOCOL = 'json.reliable.webpubsub.azure.v1';

const ACK_EVERY_MS = 1000;     // cumulative sequenceAck period
const ACK_AFTER_IDS = 300;     // ack at once after this many new ids
const RECOVER_EVERY_MS = 1000; // recovery attempt period
const RECOVER_FOR_MS = 30000;  // give up recovering after this long
const PING_EVERY_MS = 20000;   // application ping period
const ACK_TIMEOUT_MS = 15000;  // an ack not seen after this long fails with Timeout
const SILENT_MS = 50000;       // no frame (not even a pong) for this long: the socket is dead
// Fresh connection attempts back off from FRESH_FIRST_MS to FRESH_MAX_MS: a
// server that comes back is found within about FRESH_MAX_MS, and the
// jitter spreads the clients of a restarted server over that time.
const FRESH_FIRST_MS = 500;
const FRESH_MAX_MS = 1500;

export class AckError extends Error {
  constructor(name, message) {
    super(message || name);
    this.name = name;
  }
}

export class HubClient extends EventTarget {
  // getUrl: async () => the hub URL with a fresh access token.
  constructor(getUrl) {
    super();
    this.getUrl = getUrl;
    this.ws = null;
    this.url = null;              // the URL of the current session
    this.connectionId = null;
    this.reconnectionToken = null;
    this.lastSeq = 0;             // highest sequence id seen in this session
    this.ackedSeq = 0;            // highest sequence id acknowledged to the server
    this.nextAckId = 1;
    this.pending = new Map();     // ackId -> {frame, resolve, reject, timer}
    this.state = 'stopped';
    this.stopped = true;
    this.timers = [];
    this.freshDelay = FRESH_FIRST_MS;
    this.wake = null;             // ends the current wait between attempts
    this.stats = { fresh: 0, recovered: 0 }; // opened sessions, by kind
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  async start() {
    this.stopped = false;
    this.setState('connecting');
    await this.connectFresh();
  }

  // stop closes the socket with 1000, which ends the session on the server.
  stop() {
    this.stopped = true;
    this.clearTimers();
    if (this.ws) {
      try { this.ws.close(1000, 'bye'); } catch { /* already closed */ }
      this.ws = null;
    }
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new AckError('Stopped', 'connection stopped'));
    }
    this.pending.clear();
    this.setState('stopped');
  }

  clearTimers() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async connectFresh() {
    while (!this.stopped) {
      let url;
      try {
        url = await this.getUrl();
      } catch (err) {
        if (err && err.status === 401) {
          this.dispatchEvent(new CustomEvent('unauthorized'));
          this.stop();
          return;
        }
        await this.pause(this.nextFreshDelay());
        continue;
      }
      this.url = url;
      this.connectionId = null;
      this.reconnectionToken = null;
      this.lastSeq = 0;
      this.ackedSeq = 0;
      const result = await this.open(url, true);
      if (result === 'open' || this.stopped) {
        this.freshDelay = FRESH_FIRST_MS;
        return;
      }
      await this.pause(this.nextFreshDelay());
    }
  }

  nextFreshDelay() {
    const d = this.freshDelay;
    this.freshDelay = Math.min(this.freshDelay * 2, FRESH_MAX_MS);
    return d * (0.5 + Math.random() * 0.5);
  }

  // pause waits ms between attempts, or less when retryNow is called.
  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() { clearTimeout(timer); if (self.wake === done) self.wake = null; resolve(); }
      this.wake = done;
    });
  }

  // retryNow ends the wait before the next attempt to reconnect (a user's
  // "Retry now", the browser going online).
  retryNow() {
    if (this.stopped || this.state === 'connected') return;
    this.freshDelay = FRESH_FIRST_MS;
    if (this.wake) this.wake();
  }

  // open dials url and resolves "open" once the session is usable (the
  // connected frame for a fresh connection, the upgrade for a recovery), or
  // "refused" (closed with 1008 before that) or "failed".
  open(url, fresh) {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v) => { if (!settled) { settled = true; resolve(v); } };
      let ws;
      try {
        ws = new WebSocket(url, SUBPROTOCOL);
      } catch {
        settle('failed');
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        if (!fresh) {
          // A recovered session may not send "connected" again: it is usable now.
          this.onOpened(false);
          settle('open');
        }
      };
      ws.onmessage = (ev) => {
        if (ws !== this.ws) return;
        this.lastFrameAt = Date.now();
        let frame;
        try { frame = JSON.parse(ev.data); } catch { return; }
        if (frame.type === 'system' && frame.event === 'connected') {
          this.connectionId = frame.connectionId;
          this.reconnectionToken = frame.reconnectionToken;
          if (fresh && !settled) {
            this.onOpened(true);
            settle('open');
          }
          return;
        }
        this.onFrame(frame);
      };
      ws.onclose = (ev) => {
        if (ws !== this.ws) { settle('failed'); return; }
        this.ws = null;
        this.clearTimers();
        if (ev.code === 1008 && ev.reason === 'banned') {
          // No reconnecting: the account may not sign in again.
          this.stop();
          this.dispatchEvent(new CustomEvent('banned'));
          settle('refused');
          return;
        }
        if (!settled) {
          settle(ev.code === 1008 ? 'refused' : 'failed');
          return;
        }
        if (this.stopped) return;
        this.onDropped(ev.code);
      };
      ws.onerror = () => { /* onclose follows */ };
    });
  }

  onOpened(fresh) {
    this.stats[fresh ? 'fresh' : 'recovered']++;
    this.setState('connected');
    this.timers.push(setInterval(() => this.flushAck(), ACK_EVERY_MS));
    this.lastFrameAt = Date.now();
    this.timers.push(setInterval(() => {
      // A half-open TCP connection can stay "open" for minutes: a server
      // that answers no ping is treated as a dropped socket.
      if (Date.now() - this.lastFrameAt > SILENT_MS && this.ws) {
        this.ws.close(4001, 'server silent');
        return;
      }
      this.sendRaw({ type: 'ping' });
    }, PING_EVERY_MS));
    // Frames that were in flight when the socket dropped: a recovered session
    // answers a repeated ackId with Duplicate (it was done), or does the work.
    // A fresh connection is another session: the application decides.
    if (fresh) {
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new AckError('ConnectionLost', 'the connection was lost before the server answered'));
        this.pending.delete(id);
      }
    } else {
      for (const p of this.pending.values()) this.sendRaw(p.frame);
    }
    this.dispatchEvent(new CustomEvent('open', { detail: { fresh } }));
  }

  async onDropped(code) {
    this.setState('reconnecting');
    if (code === 1008 || !this.connectionId || !this.reconnectionToken) {
      await this.connectFresh();
      return;
    }
    const until = Date.now() + RECOVER_FOR_MS;
    while (!this.stopped && Date.now() < until) {
      await this.pause(RECOVER_EVERY_MS);
      if (this.stopped) return;
      const u = new URL(this.url);
      u.searchParams.set('awps_connection_id', this.connectionId);
      u.searchParams.set('awps_reconnection_token', this.reconnectionToken);
      const r = await this.open(u.toString(), false);
      if (r === 'open') return;
      if (r === 'refused') break;
    }
    if (!this.stopped) await this.connectFresh();
  }

  onFrame(frame) {
    if (frame.type === 'message') {
      if (typeof frame.sequenceId === 'number') {
        if (frame.sequenceId <= this.lastSeq) return; // replayed and already seen
        this.lastSeq = frame.sequenceId;
        if (this.lastSeq - this.ackedSeq >= ACK_AFTER_IDS) this.flushAck();
      }
      this.dispatchEvent(new CustomEvent('message', { detail: frame }));
      return;
    }
    if (frame.type === 'ack') {
      const p = this.pending.get(frame.ackId);
      if (!p) return;
      this.pending.delete(frame.ackId);
      clearTimeout(p.timer);
      if (frame.success || (frame.error && frame.error.name === 'Duplicate')) {
        p.resolve(frame);
      } else {
        const e = frame.error || {};
        p.reject(new AckError(e.name || 'Error', e.message));
      }
      return;
    }
    if (frame.type === 'system' && frame.event === 'disconnected') {
      this.lastDisconnectReason = frame.message;
    }
  }

  flushAck() {
    if (this.lastSeq > this.ackedSeq && this.sendRaw({ type: 'sequenceAck', sequenceId: this.lastSeq })) {
      this.ackedSeq = this.lastSeq;
    }
  }

  sendRaw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // send sends frame with a new ackId and resolves with the ack; it rejects
  // with an AckError when the server answers with an error.
  send(frame) {
    const ackId = this.nextAckId++;
    const f = { ...frame, ackId };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(ackId)) reject(new AckError('Timeout', 'the server did not answer'));
      }, ACK_TIMEOUT_MS);
      this.pending.set(ackId, { frame: f, resolve, reject, timer });
      this.sendRaw(f); // if the socket is down it goes out on recovery
    });
  }

  sendEvent(event, data, dataType = 'json') {
    return this.send({ type: 'event', event, dataType, data });
  }

  sendToGroup(group, data) {
    return this.send({ type: 'sendToGroup', group, dataType: 'json', data });
  }

  get connected() {
    return this.state === 'connected';
  }
}
