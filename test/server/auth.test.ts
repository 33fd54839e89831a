import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { workerToken } from "../../src/server/worker-token.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";

const TOKEN = "a-long-enough-api-token";
const SECRET = "a-secret-of-sixteen-plus-characters";
let omoi: TestOmoi;

before(async () => {
  omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_API_TOKEN: TOKEN, OMOI_SECRET: SECRET });
});
after(async () => omoi.stop());

const call = (route: string, init: RequestInit = {}) => fetch(`${omoi.url}${route}`, init);
const json = (body: unknown, token?: string): RequestInit => ({
  method: "POST",
  headers: {
    "content-type": "application/json",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
  body: JSON.stringify(body),
});

test("with OMOI_API_TOKEN set, the API needs it and says how to send it", async () => {
  const refused = await call("/api/v1/tasks");
  assert.equal(refused.status, 401);
  assert.match(
    ((await refused.json()) as { error: { message: string } }).error.message,
    /Authorization: Bearer/,
  );
  assert.equal(
    (await call("/api/v1/tasks", { headers: { authorization: "Bearer wrong-token-here" } })).status,
    401,
  );
  assert.equal(
    (await call("/api/v1/tasks", { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    200,
  );
  assert.equal((await call("/api/v1/health")).status, 200, "health stays open for load balancers");
  assert.equal((await call("/api/v1/sandboxes", json({ id: "guarded" }))).status, 401);
  assert.equal((await call("/api/v1/sandboxes", json({ id: "guarded" }, TOKEN))).status, 201);
});

test("the token check cannot be dodged by encoding the path or claiming an upgrade", async () => {
  assert.equal((await call("/%61pi/v1/tasks")).status, 401);
  assert.equal((await call("/api/v1/%74asks")).status, 401);
  // fetch refuses these headers, so a raw request claims the upgrade.
  const claimed = await new Promise<number>((resolve, reject) => {
    const request = httpRequest(
      `${omoi.url}/api/v1/tasks`,
      { headers: { upgrade: "websocket", connection: "close" } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("error", reject);
    request.end();
  });
  assert.equal(claimed, 401);
  const plainGet = await call("/ws/events");
  assert.notEqual(plainGet.status, 200);
});

test("viewer sockets need the token too", async () => {
  const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
    const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/ws/events`);
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on("error", () => undefined);
  });
  assert.equal(closed.code, 4401);
  assert.match(closed.reason, /token/);
  const opened = await new Promise<boolean>((resolve) => {
    const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/ws/events?token=${TOKEN}`);
    socket.on("open", () => {
      socket.close();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
  assert.equal(opened, true);
});

test("a seed-style worker may use its own sandbox's token on that sandbox's routes only", async () => {
  await call("/api/v1/sandboxes", json({ id: "worker-a" }, TOKEN));
  await call("/api/v1/sandboxes", json({ id: "worker-b" }, TOKEN));
  const tokenA = workerToken(SECRET, "worker-a");
  const own = await call(
    "/api/v1/sandboxes/worker-a/events",
    json({ event_type: "agent.message", payload: { content: "hi" } }, tokenA),
  );
  assert.equal(own.status, 201);
  assert.equal(
    (
      await call("/api/v1/sandboxes/worker-a/messages", {
        headers: { authorization: `Bearer ${tokenA}` },
      })
    ).status,
    200,
  );
  const other = await call(
    "/api/v1/sandboxes/worker-b/events",
    json({ event_type: "agent.message" }, tokenA),
  );
  assert.equal(other.status, 401);
  assert.equal(
    (await call("/api/v1/tasks", { headers: { authorization: `Bearer ${tokenA}` } })).status,
    401,
  );
});
