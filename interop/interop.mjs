// Drives Chatr's drop-in Web PubSub mode with the unmodified official
// packages: @azure/web-pubsub-express receives the upstream events,
// @azure/web-pubsub (server SDK) calls the REST API, and
// @azure/web-pubsub-client is connected at the same time.
//
// Run by upstream_test.go / interop_test.go (package server_test):
//   1. this script starts Express on a free port and prints "LISTENING <port>";
//   2. the Go test starts Chatr with --upstream-url-template pointing at it
//      and writes "GO <endpoint> <accessKey>" on stdin;
//   3. the checks run; the script prints "PASS" and exits 0, or exits 1.
import express from "express";
import { WebPubSubEventHandler } from "@azure/web-pubsub-express";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { WebPubSubClient } from "@azure/web-pubsub-client";
import assert from "node:assert/strict";
import readline from "node:readline";

const hub = "sample_hub";
const log = (...a) => console.error("[interop]", ...a);

// What the event handler saw, for the checks below.
const seen = { connect: [], connected: [], disconnected: [], user: [] };
const waiters = [];
function record(kind, v) {
  seen[kind].push(v);
  for (const w of [...waiters]) if (w.kind === kind && w.pred(v)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(v); }
}
function waitFor(kind, pred, what) {
  const found = seen[kind].find(pred);
  if (found) return Promise.resolve(found);
  return withTimeout(new Promise((resolve) => waiters.push({ kind, pred, resolve })), `event handler: ${what}`);
}
function withTimeout(p, what, ms = 10000) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error("timed out waiting for " + what)), ms); })]).finally(() => clearTimeout(t));
}

const handler = new WebPubSubEventHandler(hub, {
  path: "/eventhandler",
  handleConnect(req, res) {
    record("connect", req);
    const userId = req.context.userId;
    if (req.query?.reject?.[0] === "yes") return res.fail(401, "rejected by the test handler");
    // Amend: a new user id when the token had "anon", and one more group.
    res.setState("greeting", "hello");
    res.success({ userId: userId === "anon" ? "amended-user" : userId, groups: ["from-connect"], roles: ["webpubsub.sendToGroup"] });
  },
  onConnected(req) { record("connected", req); },
  onDisconnected(req) { record("disconnected", req); },
  handleUserEvent(req, res) {
    record("user", req);
    switch (req.context.eventName) {
      case "echo":
        return res.success(JSON.stringify({ echo: req.data, dataType: req.dataType, state: req.context.states.greeting ?? null }), "json");
      case "shout":
        return res.success(String(req.data).toUpperCase(), "text");
      case "fail":
        return res.fail(400, "the handler refuses");
      default:
        return res.success();
    }
  },
});

const app = express();
app.use(handler.getMiddleware());
const server = app.listen(0, "127.0.0.1", () => console.log("LISTENING " + server.address().port));

const rl = readline.createInterface({ input: process.stdin });
const [endpoint, accessKey] = await new Promise((resolve) => rl.once("line", (l) => resolve(l.trim().split(" ").slice(1))));

// A client SDK connection with a record of what it received.
async function connect(service, opts, tokenOpts) {
  const events = { server: [], group: [], connected: null, disconnected: [], stopped: false };
  const client = new WebPubSubClient({ getClientAccessUrl: async () => (await service.getClientAccessToken(tokenOpts)).url }, opts);
  client.on("connected", (e) => { events.connected = e; });
  client.on("server-message", (e) => events.server.push(e.message));
  client.on("group-message", (e) => events.group.push(e.message));
  client.on("disconnected", (e) => events.disconnected.push(e));
  client.on("stopped", () => { events.stopped = true; });
  await client.start();
  await until(() => events.connected, "connected frame");
  return { client, events };
}
async function until(f, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const checks = [];
const check = (name, f) => checks.push({ name, f });
// Chatr listens on plain http in the test: the SDK must be told that is fine.
const insecure = { allowInsecureConnection: true };
const service = new WebPubSubServiceClient(`Endpoint=${endpoint};AccessKey=${accessKey};Version=1.0;`, hub, insecure);
let alice; // the connection most checks share

check("connect event: the handler amends userId, groups and roles; the abuse-protection handshake passed", async () => {
  alice = await connect(service, { autoReconnect: false, messageRetryOptions: { maxRetries: 0 } }, { userId: "anon", roles: ["webpubsub.joinLeaveGroup"] });
  assert.equal(alice.events.connected.userId, "amended-user");
  const req = await waitFor("connect", (r) => r.context.connectionId === alice.events.connected.connectionId, "connect");
  assert.equal(req.context.userId, "anon");
  assert.equal(req.context.hub, hub);
  assert.match(req.context.signature, /^sha256=[0-9a-f]{64}$/);
  assert.ok(Array.isArray(req.subprotocols) && req.subprotocols.length > 0, "subprotocols listed");
  assert.deepEqual(req.claims.sub, ["anon"]);
  await waitFor("connected", (r) => r.context.connectionId === alice.events.connected.connectionId, "connected");
});

check("connect event: a 401 from the handler refuses the upgrade", async () => {
  const tok = await service.getClientAccessToken({ userId: "mallory" });
  const c = new WebPubSubClient({ getClientAccessUrl: async () => tok.url + "&reject=yes" }, { autoReconnect: false });
  await assert.rejects(c.start());
});

check("user event: the handler's JSON answer reaches the caller, with the connection state set at connect", async () => {
  const before = alice.events.server.length;
  await alice.client.sendEvent("echo", { n: 1 }, "json");
  const m = await until(() => alice.events.server[before], "server message");
  assert.equal(m.dataType, "json");
  assert.deepEqual(m.data, { echo: { n: 1 }, dataType: "json", state: "hello" });
  const req = await waitFor("user", (r) => r.context.eventName === "echo", "echo event");
  assert.equal(req.context.userId, "amended-user");
});

check("user event: a text answer comes back as text", async () => {
  const before = alice.events.server.length;
  await alice.client.sendEvent("shout", "quiet", "text");
  const m = await until(() => alice.events.server[before], "server message");
  assert.equal(m.dataType, "text");
  assert.equal(m.data, "QUIET");
});

check("user event: a handler failure is reported on the caller's ack", async () => {
  await assert.rejects(alice.client.sendEvent("fail", {}, "json"), (e) => {
    assert.equal(e.errorDetail?.name, "InvocationFailed");
    assert.match(e.errorDetail?.message ?? "", /refuses/);
    return true;
  });
});

check("REST: send to all, to a user and to a connection (json, text, binary)", async () => {
  await service.sendToAll({ hello: "all" });
  await service.sendToUser("amended-user", "hi alice", { contentType: "text/plain" });
  await service.sendToConnection(alice.events.connected.connectionId, new Uint8Array([1, 2, 3]).buffer);
  await until(() => alice.events.server.find((m) => m.data?.hello === "all"), "sendToAll");
  await until(() => alice.events.server.find((m) => m.data === "hi alice" && m.dataType === "text"), "sendToUser");
  const bin = await until(() => alice.events.server.find((m) => m.dataType === "binary"), "sendToConnection");
  assert.deepEqual([...new Uint8Array(bin.data)], [1, 2, 3]);
});

check("REST: groups joined at connect, add/remove user and connection, exists checks, send to a group", async () => {
  assert.equal(await service.groupExists("from-connect"), true);
  assert.equal(await service.userExists("amended-user"), true);
  assert.equal(await service.userExists("nobody"), false);
  assert.equal(await service.connectionExists(alice.events.connected.connectionId), true);
  assert.equal(await service.connectionExists("no-such-connection"), false);
  const g = service.group("team");
  assert.equal(await service.groupExists("team"), false);
  await g.addUser("amended-user");
  assert.equal(await service.groupExists("team"), true);
  await g.sendToAll({ to: "team" });
  const m = await until(() => alice.events.group.find((m) => m.group === "team"), "group message");
  assert.deepEqual(m.data, { to: "team" });
  await g.removeUser("amended-user");
  assert.equal(await service.groupExists("team"), false);
  await g.addConnection(alice.events.connected.connectionId);
  assert.equal(await service.groupExists("team"), true);
  await g.removeConnection(alice.events.connected.connectionId);
  assert.equal(await service.groupExists("team"), false);
  await assert.rejects(g.addConnection("no-such-connection"), (e) => e.statusCode === 404);
});

check("REST: excluded connection on a group send; list a group's connections", async () => {
  const bob = await connect(service, { autoReconnect: false }, { userId: "bob", groups: ["both"] });
  const g = service.group("both");
  await g.addConnection(alice.events.connected.connectionId);
  await g.sendToAll("not for bob", { contentType: "text/plain", excludedConnections: [bob.events.connected.connectionId] });
  await g.sendToAll("for both", { contentType: "text/plain" });
  const listed = [];
  // The SDK wraps the pager in a promise (withSpan).
  for await (const m of await g.listConnections()) listed.push(m);
  assert.deepEqual(listed.map((m) => m.connectionId).sort(), [alice.events.connected.connectionId, bob.events.connected.connectionId].sort());
  assert.deepEqual(listed.map((m) => m.userId).sort(), ["amended-user", "bob"]);
  await until(() => bob.events.group.find((m) => m.data === "for both"), "bob's group message");
  await until(() => alice.events.group.find((m) => m.data === "for both"), "alice's group message");
  assert.ok(alice.events.group.find((m) => m.data === "not for bob"), "alice got the message that excludes bob");
  assert.ok(!bob.events.group.find((m) => m.data === "not for bob"), "bob was excluded");
  // The role granted by the connect answer lets alice publish to the group.
  await alice.client.sendToGroup("both", "from alice", "text");
  const fromAlice = await until(() => bob.events.group.find((m) => m.data === "from alice"), "alice's message to the group");
  assert.equal(fromAlice.fromUserId, "amended-user");
  await service.closeUserConnections("bob", { reason: "bye bob" });
  await until(() => bob.events.stopped || bob.events.disconnected.length, "bob disconnected");
  bob.client.stop();
});

check("REST: a request signed with another key is refused", async () => {
  const wrong = new WebPubSubServiceClient(`Endpoint=${endpoint};AccessKey=not-the-right-key-0123456789;Version=1.0;`, hub, insecure);
  await assert.rejects(wrong.sendToAll({ x: 1 }), (e) => e.statusCode === 401);
});

check("REST: close a connection; the handler gets disconnected with the reason", async () => {
  const id = alice.events.connected.connectionId;
  await service.closeConnection(id, { reason: "kicked by the test" });
  const req = await waitFor("disconnected", (r) => r.context.connectionId === id, "disconnected");
  assert.match(req.reason ?? "", /kicked by the test/);
  assert.equal(await service.connectionExists(id), false);
  alice.client.stop();
});

let failed = 0;
for (const { name, f } of checks) {
  try {
    await withTimeout(f(), name, 20000);
    console.log("ok   " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + "\n     " + (e?.stack ?? e));
  }
}
server.close();
rl.close();
console.log(failed ? `FAILED ${failed} of ${checks.length}` : `PASS ${checks.length} checks`);
process.exit(failed ? 1 : 0);
