import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runTaskWithEvents } from "../helpers/tasks.ts";

/*
 * An environment's model credentials, end to end: the real CLI in the real sandbox talks to
 * the worker's gateway, which swaps the credential in on the way to the model. A recording
 * proxy in front of the scripted model sees the headers; the agent's own Bash tool looks for
 * the credential inside the sandbox and finds nothing.
 */

const SUBSCRIPTION = "sk-ant-oat01-subscription-e2e-4f1c9a";
const API_KEY = "sk-ant-api03-environment-key-e2e-77b2d0";
let model: ScriptedModel;
let proxy: http.Server;
let omoi: TestOmoi;
const seen: http.IncomingHttpHeaders[] = [];

before(async () => {
  model = await startScriptedModel({ port: 0 });
  const upstream = new URL(model.url);
  proxy = http.createServer((request, response) => {
    seen.push(request.headers);
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on("error", () => response.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", () => resolve()));
  const port = (proxy.address() as AddressInfo).port;
  omoi = await startTestOmoi({ ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` });
});
after(async () => {
  await omoi.stop();
  proxy.close();
  await model.close();
});

/** Every environment the sandbox's processes hold, and its home, searched for a credential. */
const PROBE =
  "env; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | sort -u; grep -rIh . \"$HOME\" \"$CLAUDE_CONFIG_DIR\" 2>/dev/null | head -c 200000";

describe("model credentials of an environment, end to end", () => {
  for (const [kind, credentials, value, check] of [
    [
      "a subscription token",
      { kind: "oauth_token", oauth_token: SUBSCRIPTION },
      SUBSCRIPTION,
      (headers: http.IncomingHttpHeaders) =>
        headers.authorization === `Bearer ${SUBSCRIPTION}` &&
        String(headers["anthropic-beta"]).includes("oauth-2025-04-20") &&
        headers["x-api-key"] === undefined,
    ],
    [
      "an API key",
      { kind: "api_key", api_key: API_KEY },
      API_KEY,
      (headers: http.IncomingHttpHeaders) =>
        headers["x-api-key"] === API_KEY && headers.authorization === undefined,
    ],
  ] as const) {
    test(`${kind} reaches the model as its header and is nowhere inside the sandbox`, async () => {
      const name = kind.replaceAll(" ", "-");
      const created = await api(omoi.url, "POST", "/api/v1/environments", {
        name,
        model_credentials: credentials,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      seen.length = 0;
      const { task, events } = await runTaskWithEvents(omoi.url, {
        prompt: `[scenario:shell] ${PROBE}`,
        environment: name,
      });
      assert.equal(task.status, "completed", task.error ?? "");
      const messages = seen.filter((headers) => headers["content-type"]?.includes("json"));
      assert.ok(messages.length > 0, "the model was asked");
      assert.ok(
        messages.every(check),
        `every model request carried ${kind} as its header: ${JSON.stringify(messages.filter((headers) => !check(headers)))}`,
      );
      const output = JSON.stringify(
        events.find((event) => event.event_type === "agent.tool_result")?.payload,
      );
      assert.match(output, /ANTHROPIC_BASE_URL=/, "the probe saw the sandbox's environment");
      assert.ok(!output.includes(value), `${kind} is inside the sandbox`);
      const stored = await api(
        omoi.url,
        "GET",
        `/api/v1/sandboxes/${task.sandbox_id}/events?limit=1000`,
      );
      assert.ok(!JSON.stringify(stored.body).includes(value), `${kind} was stored in an event`);
    });
  }
});
