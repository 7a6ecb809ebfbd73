// Drives the Chatr hub with the unmodified official Web PubSub client SDK.
// Started by TestOfficialSDK (hub/sdk_test.go), which runs the hub and
// passes its URLs in the environment:
//   HUB_NEGOTIATE_URL  GET ?user=<id>&roles=<comma list> -> {"url": "<client access URL>"}
//   HUB_CONTROL_URL    POST /drop?conn=<id>   drops the socket without a close frame
//                      POST /refuse?conn=<id> makes the hub refuse that connection's recovery, then drops it
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebPubSubClient } from "@azure/web-pubsub-client";

const NEGOTIATE = process.env.HUB_NEGOTIATE_URL;
const CONTROL = process.env.HUB_CONTROL_URL;
if (!NEGOTIATE || !CONTROL) {
  throw new Error("HUB_NEGOTIATE_URL and HUB_CONTROL_URL must be set (run through go test -run TestOfficialSDK)");
}

const ALL = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"];
const WAIT = 10_000;

async function accessURL(user, roles) {
  const q = new URLSearchParams({ user, roles: roles.join(",") });
  const res = await fetch(`${NEGOTIATE}?${q}`);
  assert.equal(res.status, 200, "negotiate");
  return (await res.json()).url;
}

async function control(action, conn) {
  const res = await fetch(`${CONTROL}/${action}?conn=${encodeURIComponent(conn)}`, { method: "POST" });
  assert.equal(res.status, 200, `${action} ${conn}`);
}

// Inbox collects a client's events and lets a test wait for them.
class Inbox {
  constructor(client, event) {
    this.items = [];
    this.waiters = [];
    client.on(event, (e) => {
      this.items.push(e.message ?? e);
      for (const w of [...this.waiters]) w();
    });
  }
  async waitFor(pred, what) {
    if (pred(this.items)) return;
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.items)}`));
      }, WAIT);
      const check = () => {
        if (pred(this.items)) {
          clearTimeout(t);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.waiters.push(check);
    });
  }
  async count(n, what) {
    await this.waitFor((items) => items.length >= n, `${n} ${what}`);
    return this.items.slice(0, n);
  }
}

const clients = [];
async function start(user, roles = ALL, options = {}) {
  // Short keepalive settings: the SDK pings every half second (so the
  // suite exercises ping/pong) and its timeout monitor, which otherwise
  // keeps node alive for 40 s after stop(), checks every second.
  options = { keepAliveIntervalInMs: 500, keepAliveTimeoutInMs: 3000, ...options };
  const client = new WebPubSubClient({ getClientAccessUrl: () => accessURL(user, roles) }, options);
  const connected = new Inbox(client, "connected");
  const disconnected = new Inbox(client, "disconnected");
  const group = new Inbox(client, "group-message");
  const server = new Inbox(client, "server-message");
  await client.start();
  await connected.count(1, "connected");
  clients.push(client);
  return { client, connected, disconnected, group, server, id: () => connected.items.at(-1).connectionId };
}

test.after(() => {
  for (const c of clients) c.stop();
});

test("start: connected with the user id", async () => {
  const a = await start("alice");
  const ev = a.connected.items[0];
  assert.equal(ev.userId, "alice");
  assert.ok(ev.connectionId, "connectionId");
  a.client.stop();
});

test("joinGroup and sendToGroup, text and json", async () => {
  const a = await start("alice");
  const b = await start("bob");
  await a.client.joinGroup("g1");
  await b.client.joinGroup("g1");
  await a.client.sendToGroup("g1", "hello", "text");
  await a.client.sendToGroup("g1", { message: "hi", n: [1, 2] }, "json");
  const got = await b.group.count(2, "group messages");
  assert.equal(got[0].group, "g1");
  assert.equal(got[0].fromUserId, "alice");
  assert.equal(got[0].dataType, "text");
  assert.equal(got[0].data, "hello");
  assert.equal(got[1].dataType, "json");
  assert.deepEqual(got[1].data, { message: "hi", n: [1, 2] });
  // Without noEcho the sender gets its own messages too.
  const echoed = await a.group.count(2, "echoed messages");
  assert.deepEqual(echoed.map((m) => m.data), ["hello", { message: "hi", n: [1, 2] }]);
  // Binary goes through as an ArrayBuffer.
  await a.client.sendToGroup("g1", new Uint8Array([0, 1, 255]).buffer, "binary");
  const [, , bin] = await b.group.count(3, "binary message");
  assert.equal(bin.dataType, "binary");
  assert.deepEqual([...new Uint8Array(bin.data)], [0, 1, 255]);
  a.client.stop();
  b.client.stop();
});

test("sendEvent answered by the server", async () => {
  const a = await start("alice");
  const res = await a.client.sendEvent("echo", { ping: 42 }, "json");
  assert.equal(res.isDuplicated, false);
  const [reply] = await a.server.count(1, "server reply");
  assert.equal(reply.dataType, "json");
  assert.deepEqual(reply.data, { ping: 42, from: "alice" });
  await a.client.sendEvent("echo", "plain words", "text");
  const [, textReply] = await a.server.count(2, "text reply");
  assert.equal(textReply.data, "plain words");
  a.client.stop();
});

test("noEcho: the sender does not get its own message", async () => {
  const a = await start("alice");
  const b = await start("bob");
  await a.client.joinGroup("g2");
  await b.client.joinGroup("g2");
  await a.client.sendToGroup("g2", "quiet", "text", { noEcho: true });
  await a.client.sendToGroup("g2", "loud", "text");
  const got = await b.group.count(2, "messages");
  assert.deepEqual(got.map((m) => m.data), ["quiet", "loud"]);
  const mine = await a.group.count(1, "echo");
  assert.equal(mine[0].data, "loud", "the first message a sees is its echoed one");
  assert.equal(a.group.items.length, 1);
  a.client.stop();
  b.client.stop();
});

test("Forbidden without the roles", async () => {
  const n = await start("nobody", [], { messageRetryOptions: { maxRetries: 0 } });
  await assert.rejects(n.client.joinGroup("g3"), (err) => {
    assert.equal(err.errorDetail?.name, "Forbidden");
    return true;
  });
  await assert.rejects(n.client.sendToGroup("g3", "x", "text"), (err) => {
    assert.equal(err.errorDetail?.name, "Forbidden");
    return true;
  });
  // Events need no role.
  await n.client.sendEvent("echo", "ok", "text");
  const scoped = await start("scoped", ["webpubsub.joinLeaveGroup.g3"], { messageRetryOptions: { maxRetries: 0 } });
  await scoped.client.joinGroup("g3");
  await assert.rejects(scoped.client.joinGroup("g4"), (err) => err.errorDetail?.name === "Forbidden");
  n.client.stop();
  scoped.client.stop();
});

test("a dropped socket recovers with no message lost or doubled", async () => {
  const a = await start("alice");
  const b = await start("bob");
  await a.client.joinGroup("rec");
  const N = 30;
  for (let i = 0; i < N; i++) {
    if (i === 10 || i === 20) {
      await control("drop", a.id()); // a's socket dies; b keeps sending
    }
    await b.client.sendToGroup("rec", { i }, "json", { noEcho: true });
  }
  const got = await a.group.count(N, "messages across the drops");
  assert.deepEqual(got.map((m) => m.data.i), [...Array(N).keys()]);
  await b.client.sendToGroup("rec", { i: "last" }, "json", { noEcho: true });
  await a.group.waitFor((items) => items.some((m) => m.data.i === "last"), "last message");
  assert.equal(a.group.items.length, N + 1, "no message doubled");
  assert.equal(a.connected.items.length, 1, "recovered, not reconnected");
  assert.equal(a.disconnected.items.length, 0, "no disconnected event on recovery");
  // The recovered connection still acts for its user.
  await a.client.sendToGroup("rec", "after", "text");
  await a.group.waitFor((items) => items.some((m) => m.data === "after"), "own message after recovery");
  a.client.stop();
  b.client.stop();
});

test("a refused recovery falls back to a fresh connection and re-joins", async () => {
  const a = await start("alice");
  const b = await start("bob");
  await a.client.joinGroup("rej");
  const first = a.id();
  await control("refuse", first);
  await a.disconnected.count(1, "disconnected after the refused recovery");
  await a.connected.count(2, "a fresh connection");
  assert.notEqual(a.id(), first, "new connection id");
  // The SDK re-joined its groups before it reported the new connection.
  await b.client.sendToGroup("rej", { n: 1 }, "json", { noEcho: true });
  const [msg] = await a.group.count(1, "message after the re-join");
  assert.deepEqual(msg.data, { n: 1 });
  a.client.stop();
  b.client.stop();
});

test("an idle client stays connected: pings are answered", async () => {
  const a = await start("idle");
  // Longer than the 3 s keepalive timeout set above: only pongs keep it.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(a.disconnected.items.length, 0);
  assert.equal(a.connected.items.length, 1);
  await a.client.sendEvent("echo", "still here", "text");
  a.client.stop();
});
