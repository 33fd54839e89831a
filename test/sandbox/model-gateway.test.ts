import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { type ModelGateway, startModelGateway } from "../../src/sandbox/model-gateway.ts";

let upstream: http.Server;
let gateway: ModelGateway;
let releaseSecondEvent: () => void = () => {};
const seen: Array<{ url: string; apiKey: unknown; authorization: unknown }> = [];

before(async () => {
  upstream = http.createServer((request, response) => {
    seen.push({
      url: request.url ?? "",
      apiKey: request.headers["x-api-key"],
      authorization: request.headers.authorization,
    });
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("event: one\ndata: {}\n\n");
    // The second event is sent only once the client has the first: a buffering gateway
    // would never deliver the first, and this test would time out.
    releaseSecondEvent = () => response.end("event: two\ndata: {}\n\n");
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", () => resolve()));
  const port = (upstream.address() as AddressInfo).port;
  gateway = await startModelGateway({
    upstreamBaseUrl: `http://127.0.0.1:${port}/prefix/`,
    apiKey: "real-key",
  });
});

after(async () => {
  await gateway.close();
  upstream.closeAllConnections();
  upstream.close();
});

test("streams SSE through event by event and swaps the access token for the real key", async () => {
  const response = await fetch(`${gateway.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "x-api-key": gateway.accessToken, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("event: one")) {
    const chunk = await reader.read();
    assert.equal(chunk.done, false);
    text += decoder.decode(chunk.value);
  }
  assert.equal(text.includes("event: two"), false);
  releaseSecondEvent();
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value);
  }
  assert.match(text, /event: two/);
  assert.deepEqual(seen.at(-1), {
    url: "/prefix/v1/messages?beta=true",
    apiKey: "real-key",
    authorization: undefined,
  });
});

test("refuses a request without the access token, and never forwards it", async () => {
  const before = seen.length;
  const attempts: Array<Record<string, string>> = [
    {},
    { "x-api-key": "guess" },
    { authorization: "Bearer guess" },
  ];
  for (const headers of attempts) {
    const response = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers,
      body: "{}",
    });
    assert.equal(response.status, 401);
    await response.text();
  }
  assert.equal(seen.length, before);
});

test("accepts the access token as a Bearer token too, the scheme in any case", async () => {
  const response = await fetch(`${gateway.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { authorization: `bearer ${gateway.accessToken}` },
    body: "{}",
  });
  releaseSecondEvent();
  assert.equal(response.status, 200);
  await response.text();
  assert.equal(seen.at(-1)?.apiKey, "real-key");
});

test("forwards only the routes the agent needs and refuses the rest with a clear error", async () => {
  const before = seen.length;
  const refused: [string, string][] = [
    ["GET", "/v1/models"],
    ["POST", "/v1/files"],
    ["GET", "/v1/messages/batches"],
    ["POST", "/v1/messages/batches"],
    ["DELETE", "/v1/messages"],
    ["POST", "/v1/messages/../files"],
    ["POST", "/v1/messages/%2e%2e/files"],
    ["GET", "/v1/organizations/me"],
  ];
  for (const [method, path] of refused) {
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        `${gateway.url}${path}`,
        { method, headers: { "x-api-key": gateway.accessToken } },
        (incoming) => {
          let body = "";
          incoming.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, body }));
        },
      );
      request.on("error", reject);
      request.end();
    });
    assert.equal(response.status, 404, `${method} ${path}`);
    assert.match(response.body, /not forwarded; the agent may call only POST \/v1\/messages/);
  }
  assert.equal(seen.length, before, "nothing reached the real endpoint");
});
