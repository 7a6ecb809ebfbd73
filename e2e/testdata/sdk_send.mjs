// Sends one chat message with the unmodified official Web PubSub client SDK
// and its default retries, then prints {"ok": true} or {"error": "..."}.
// Started by TestSDKRetryStoresOnce with SDK_DIR (a folder whose
// node_modules holds @azure/web-pubsub-client), HUB_URL, GROUP and TEXT.
import { createRequire } from "node:module";

const require = createRequire(process.env.SDK_DIR + "/");
const { WebPubSubClient } = await import(require.resolve("@azure/web-pubsub-client"));

const client = new WebPubSubClient(process.env.HUB_URL);
await client.start();
try {
  await client.sendToGroup(process.env.GROUP, { message: process.env.TEXT }, "json");
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.message ?? e) }));
} finally {
  client.stop();
  process.exit(0);
}
