import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import { parseSse } from "./sse.ts";

const scenarios = {
  basic: {
    steps: [
      {
        blocks: [
          { type: "thinking", thinking: "Thinking about the workspace at {{cwd}} for a while." },
          { type: "text", text: "Looking around the workspace now, one moment please." },
          {
            type: "tool_use",
            name: "Bash",
            input: { command: "ls -la {{cwd}}", description: "List" },
          },
          { type: "tool_use", name: "TodoWrite", ifOffered: true, input: { todos: [] } },
        ],
      },
      { blocks: [{ type: "text", text: "All done." }] },
    ],
    rules: [
      {
        match: "file named ([\\w.-]+)",
        steps: [{ blocks: [{ type: "text", text: "Made {{1}}." }] }],
      },
      { steps: [{ blocks: [{ type: "text", text: "Heard: {{message}}" }] }] },
    ],
  },
  overloaded: { steps: [{ fail: { status: 529 } }] },
};

const system = "x\n - Primary working directory: /tmp/ws-test\n - Platform: linux";
const tools = [{ name: "Bash", input_schema: { type: "object" } }];

function body(messages: unknown[], extra: Record<string, unknown> = {}) {
  return {
    model: "claude-test",
    max_tokens: 1024,
    system: [{ type: "text", text: system }],
    thinking: { type: "adaptive" },
    tools,
    messages,
    ...extra,
  };
}

const prompt = (text: string) => ({ role: "user", content: [{ type: "text", text }] });

describe("scripted model over HTTP", () => {
  let model: ScriptedModel;
  const post = (path: string, payload: unknown, headers: Record<string, string> = {}) =>
    fetch(`${model.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof payload === "string" ? payload : JSON.stringify(payload),
    });

  before(async () => {
    model = await startScriptedModel({ port: 0, scenarios, defaultScenario: "basic" });
  });
  after(() => model.close());

  test("streams SSE events in Anthropic's order and shapes", async () => {
    const response = await post("/v1/messages?beta=true", body([prompt("go")], { stream: true }));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = parseSse(await response.text());
    const names = events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 2), ["message_start", "ping"]);
    assert.deepEqual(names.slice(-2), ["message_delta", "message_stop"]);
    const starts = events.filter((e) => e.event === "content_block_start");
    const types = starts.map((e) => (e.data.content_block as { type: string }).type);
    assert.deepEqual(
      types,
      ["thinking", "text", "tool_use"],
      "TodoWrite is not offered, so skipped",
    );
    const deltas = (index: number) =>
      events
        .filter((e) => e.event === "content_block_delta" && e.data.index === index)
        .map((e) => e.data.delta as Record<string, string>);
    const thinking = deltas(0);
    assert.ok(thinking.length > 2, "thinking arrives in several deltas");
    assert.equal(thinking.at(-1)?.type, "signature_delta");
    assert.ok(thinking.at(-1)?.signature);
    assert.equal(
      thinking
        .filter((d) => d.type === "thinking_delta")
        .map((d) => d.thinking)
        .join(""),
      "Thinking about the workspace at /tmp/ws-test for a while.",
    );
    const text = deltas(1);
    assert.ok(text.length > 2, "text arrives in several deltas");
    assert.equal(
      text.map((d) => d.text).join(""),
      "Looking around the workspace now, one moment please.",
    );
    const toolStart = starts[2].data.content_block as Record<string, unknown>;
    assert.equal(toolStart.name, "Bash");
    assert.match(String(toolStart.id), /^toolu_/);
    const json = deltas(2)
      .map((d) => d.partial_json)
      .join("");
    assert.deepEqual(JSON.parse(json), { command: "ls -la /tmp/ws-test", description: "List" });
    const stops = events.filter((e) => e.event === "content_block_stop").map((e) => e.data.index);
    assert.deepEqual(stops, [0, 1, 2]);
    const start = events[0].data.message as Record<string, unknown>;
    assert.equal(start.role, "assistant");
    assert.equal(start.model, "claude-test");
    const delta = events.at(-2)?.data as {
      delta: { stop_reason: string };
      usage: Record<string, number>;
    };
    assert.equal(delta.delta.stop_reason, "tool_use");
    assert.ok(delta.usage.output_tokens > 0);
    assert.ok(delta.usage.input_tokens > 0);
  });

  test("answers without streaming, and leaves out thinking when thinking is off", async () => {
    const response = await post("/v1/messages", body([prompt("go")], { thinking: undefined }));
    assert.equal(response.status, 200);
    const message = (await response.json()) as Record<string, unknown>;
    assert.equal(message.type, "message");
    assert.equal(message.stop_reason, "tool_use");
    const content = message.content as Array<Record<string, unknown>>;
    assert.deepEqual(
      content.map((block) => block.type),
      ["text", "tool_use"],
    );
    const usage = message.usage as Record<string, number>;
    assert.ok(usage.input_tokens > 0 && usage.output_tokens > 0);
  });

  test("plays the next step after a tool result, and rules for a folded message", async () => {
    const assistant = {
      role: "assistant",
      content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } }],
    };
    const result = { type: "tool_result", tool_use_id: "toolu_1", content: "ok" };
    const reminder = { type: "text", text: "<system-reminder>\nnote\n</system-reminder>" };
    const next = await post(
      "/v1/messages",
      body([prompt("go"), assistant, { role: "user", content: [result, reminder] }]),
    );
    const nextMessage = (await next.json()) as {
      content: Array<{ text: string }>;
      stop_reason: string;
    };
    assert.equal(nextMessage.content[0].text, "All done.");
    assert.equal(nextMessage.stop_reason, "end_turn");

    const folded = {
      type: "text",
      text: "The user sent a new message while you were working:\nmake a file named notes.md\n\nThis is how Claude Code surfaces messages the user sends mid-turn.",
    };
    const answer = await post(
      "/v1/messages",
      body([prompt("go"), assistant, { role: "user", content: [result, folded] }]),
    );
    const answerMessage = (await answer.json()) as { content: Array<{ text: string }> };
    assert.equal(answerMessage.content[0].text, "Made notes.md.");

    const later = await post(
      "/v1/messages",
      body([
        prompt("go"),
        assistant,
        { role: "user", content: [result] },
        { role: "assistant", content: "All done." },
        prompt("thanks!"),
      ]),
    );
    const laterMessage = (await later.json()) as { content: Array<{ text: string }> };
    assert.equal(laterMessage.content[0].text, "Heard: thanks!");
  });

  test("chooses the scenario by prompt marker or header", async () => {
    const byMarker = await post("/v1/messages", body([prompt("[scenario:overloaded] go")]));
    assert.equal(byMarker.status, 529);
    const byHeader = await post("/v1/messages", body([prompt("go")]), {
      "x-omoi-scenario": "overloaded",
    });
    assert.equal(byHeader.status, 529);
    const unknown = await post("/v1/messages", body([prompt("[scenario:nope] go")]));
    assert.equal(unknown.status, 400);
    const error = (await unknown.json()) as { error: { message: string } };
    assert.match(error.error.message, /unknown scenario 'nope'/);
  });

  test("counts tokens", async () => {
    const response = await post("/v1/messages/count_tokens?beta=true", {
      model: "m",
      messages: [prompt("hello")],
    });
    assert.equal(response.status, 200);
    const counted = (await response.json()) as { input_tokens: number };
    assert.ok(Number.isInteger(counted.input_tokens) && counted.input_tokens > 0);
  });

  test("rejects bad requests with 4xx in Anthropic's error shape", async () => {
    const cases: Array<[Promise<Response>, number, string]> = [
      [post("/v1/messages", "{not json"), 400, "invalid_request_error"],
      [
        post("/v1/messages", { model: "m", max_tokens: 5, messages: [] }),
        400,
        "invalid_request_error",
      ],
      [
        post("/v1/messages", { model: "m", messages: [{ role: "robot", content: "x" }] }),
        400,
        "invalid_request_error",
      ],
      [post("/v1/messages", [1, 2, 3]), 400, "invalid_request_error"],
      [post("/v1/messages/count_tokens", { messages: "x" }), 400, "invalid_request_error"],
      [fetch(`${model.url}/v1/messages`), 405, "invalid_request_error"],
      [post("/v1/nothing-here", {}), 404, "not_found_error"],
    ];
    for (const [pending, status, type] of cases) {
      const response = await pending;
      assert.equal(response.status, status);
      const error = (await response.json()) as {
        type: string;
        error: { type: string; message: string };
      };
      assert.equal(error.type, "error");
      assert.equal(error.error.type, type);
      assert.ok(error.error.message.length > 0);
    }
    const still = await post("/v1/messages", body([prompt("go")]));
    assert.equal(still.status, 200, "the server survives bad input");
  });

  test("scripted failures: an overloaded status and a dropped stream", async () => {
    const overloaded = await post(
      "/v1/messages",
      body([prompt("[scenario:overloaded] go")], { stream: true }),
    );
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.headers.get("x-should-retry"), "false");
    const error = (await overloaded.json()) as { error: { type: string } };
    assert.equal(error.error.type, "overloaded_error");

    const dropping = await startScriptedModel({
      scenarios,
      defaultScenario: "basic",
      failure: { drop: true },
    });
    try {
      const response = await fetch(`${dropping.url}/v1/messages`, {
        method: "POST",
        body: JSON.stringify(body([prompt("go")], { stream: true })),
      });
      assert.equal(response.status, 200);
      await assert.rejects(response.text(), "the stream is cut, not finished");
      await assert.rejects(
        fetch(`${dropping.url}/v1/messages`, {
          method: "POST",
          body: JSON.stringify(body([prompt("go")])),
        }),
      );
    } finally {
      await dropping.close();
    }
  });

  test("serves the models list and a health check", async () => {
    const models = await fetch(`${model.url}/v1/models`);
    assert.equal(models.status, 200);
    const list = (await models.json()) as { data: Array<{ id: string }> };
    assert.ok(list.data.length > 0);
    const health = await fetch(`${model.url}/`);
    assert.equal(health.status, 200);
    assert.ok(model.requests > 0);
  });
});

describe("scripted model start-up", () => {
  test("refuses an unknown default scenario and an invalid scenario", async () => {
    await assert.rejects(
      startScriptedModel({ scenarios, defaultScenario: "missing" }),
      /not found/,
    );
    await assert.rejects(
      startScriptedModel({ scenarios: { bad: { steps: [] } }, defaultScenario: "bad" }),
      /scenario 'bad' is invalid/,
    );
  });

  test("loads the shipped scenarios", async () => {
    const shipped = await startScriptedModel();
    await shipped.close();
  });
});
