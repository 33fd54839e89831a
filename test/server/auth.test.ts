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

test("a prototype-style worker may use its own sandbox's token on that sandbox's routes only", async () => {
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

test("a worker token opens exactly what a worker does: post its events, poll its messages", async () => {
  await call("/api/v1/sandboxes", json({ id: "worker-scope" }, TOKEN));
  const token = workerToken(SECRET, "worker-scope");
  const bearerOnly = { authorization: `Bearer ${token}` };
  const allowed = await call(
    "/api/v1/sandboxes/worker-scope/events",
    json({ event_type: "agent.message", payload: { content: "mine" } }, token),
  );
  assert.equal(allowed.status, 201);
  assert.equal(
    (await call("/api/v1/sandboxes/worker-scope/messages", { headers: bearerOnly })).status,
    200,
  );
  const refused: [string, RequestInit][] = [
    ["/api/v1/sandboxes/worker-scope/events", { headers: bearerOnly }],
    ["/api/v1/sandboxes/worker-scope/messages", json({ content: "run it again" }, token)],
    ["/api/v1/sandboxes/worker-scope", { headers: bearerOnly }],
    ["/api/v1/sandboxes/worker-scope", { method: "DELETE", headers: bearerOnly }],
  ];
  for (const [route, init] of refused) {
    const response = await call(route, init);
    assert.equal(response.status, 401, `${init.method ?? "GET"} ${route}`);
  }
});

test("a worker token is refused once its sandbox has ended, on HTTP and on the channel", async () => {
  await call("/api/v1/sandboxes", json({ id: "worker-ended" }, TOKEN));
  const token = workerToken(SECRET, "worker-ended");
  const ended = await call("/api/v1/sandboxes/worker-ended", {
    method: "DELETE",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(ended.status, 200);
  const post = await call(
    "/api/v1/sandboxes/worker-ended/events",
    json({ event_type: "agent.message", payload: { content: "late" } }, token),
  );
  assert.equal(post.status, 409);
  assert.match(
    ((await post.json()) as { error: { message: string } }).error.message,
    /has ended \(terminated\); its worker token is no longer accepted/,
  );
  const poll = await call("/api/v1/sandboxes/worker-ended/messages", {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(poll.status, 409, "the poll too, which stops a worker on the prototype's transport");
  const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
    const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/api/v1/worker/channel`);
    socket.on("open", () =>
      socket.send(
        JSON.stringify({ type: "hello", protocol: 1, sandbox_id: "worker-ended", token }),
      ),
    );
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on("error", () => undefined);
  });
  assert.equal(closed.code, 4410, "the worker is told to stop");
  assert.match(closed.reason, /has ended/);
});
