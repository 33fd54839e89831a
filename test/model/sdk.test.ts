import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { query, type SDKMessage, type SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import { type CliSandbox, cliSandbox, todoWriteEnv } from "./cli-env.ts";

type Block = { type: string; [key: string]: unknown };

function blocksOf(messages: SDKMessage[], type: "assistant" | "user"): Block[] {
  return messages.flatMap((message) => {
    if (message.type !== type) return [];
    const content = message.message.content;
    return Array.isArray(content) ? (content as unknown as Block[]) : [];
  });
}

function toolUses(messages: SDKMessage[]): Block[] {
  return blocksOf(messages, "assistant").filter((block) => block.type === "tool_use");
}

function assistantText(messages: SDKMessage[]): string {
  return blocksOf(messages, "assistant")
    .filter((block) => block.type === "text")
    .map((block) => String(block.text))
    .join("\n");
}

/** Checks that every tool call got a result back, none of them an error. */
function assertToolResults(messages: SDKMessage[]): void {
  const results = blocksOf(messages, "user").filter((block) => block.type === "tool_result");
  for (const use of toolUses(messages)) {
    const result = results.find((block) => block.tool_use_id === use.id);
    assert.ok(result, `tool ${use.name} (${use.id}) got a result`);
    assert.notEqual(
      result.is_error,
      true,
      `tool ${use.name} succeeded: ${JSON.stringify(result.content)}`,
    );
  }
}

describe("real Claude Agent SDK against the scripted model", () => {
  let model: ScriptedModel;
  const sandboxes: CliSandbox[] = [];
  before(async () => {
    model = await startScriptedModel({ port: 0 });
  });
  after(async () => {
    await model.close();
    await Promise.all(sandboxes.map((sandbox) => sandbox.cleanup()));
  });

  async function runDemo(extraEnv: Record<string, string>) {
    const sandbox = await cliSandbox(model.url, extraEnv);
    sandboxes.push(sandbox);
    const messages: SDKMessage[] = [];
    const run = query({
      prompt: "Show me what you can do.",
      options: {
        cwd: sandbox.workspace,
        env: sandbox.env,
        permissionMode: "bypassPermissions",
        allowDangerouslySkipPermissions: true,
      },
    });
    for await (const message of run) messages.push(message);
    return { sandbox, messages };
  }

  test("the demo scenario does real work in the workspace (with TodoWrite offered)", async () => {
    const { sandbox, messages } = await runDemo(todoWriteEnv);
    const readme = await readFile(join(sandbox.workspace, "README.md"), "utf8");
    assert.match(readme, /^# Omoi demo workspace/);
    assert.match(readme, /Status: reviewed by the scripted model/, "the Edit landed");
    const greet = await readFile(join(sandbox.workspace, "greet.sh"), "utf8");
    assert.match(greet, /Hello from the Omoi demo/);

    const names = toolUses(messages).map((use) => String(use.name));
    for (const name of ["Bash", "Write", "Read", "Edit", "TodoWrite"]) {
      assert.ok(names.includes(name), `the demo used ${name}; used: ${names.join(", ")}`);
    }
    assertToolResults(messages);
    const results = JSON.stringify(blocksOf(messages, "user"));
    assert.match(results, /Hello from the Omoi demo/, "the Bash output came back");
    assert.ok(blocksOf(messages, "assistant").some((block) => block.type === "thinking"));

    const result = messages.at(-1);
    assert.equal(result?.type, "result");
    assert.equal(result.subtype, "success");
    assert.match(result.result, /## Done/);
    assert.ok(result.usage.input_tokens > 0 && result.usage.output_tokens > 0);
    assert.ok(result.total_cost_usd > 0);
  });

  test("the demo works with the CLI's default tools (no TodoWrite offered)", async () => {
    const { sandbox, messages } = await runDemo({});
    const readme = await readFile(join(sandbox.workspace, "README.md"), "utf8");
    assert.match(readme, /Status: reviewed by the scripted model/);
    assert.ok(!toolUses(messages).some((use) => use.name === "TodoWrite"));
    assertToolResults(messages);
    const result = messages.at(-1);
    assert.equal(result?.type === "result" && result.subtype, "success");
  });

  test("a message pushed while a slow tool runs is answered and acted on", async () => {
    const sandbox = await cliSandbox(model.url);
    sandboxes.push(sandbox);
    const userMessage = (content: string): SDKUserMessage => ({
      type: "user",
      message: { role: "user", content },
      parent_tool_use_id: null,
      session_id: "",
    });
    let push: (message: SDKUserMessage) => void = () => undefined;
    let finish: () => void = () => undefined;
    const pushed = new Promise<SDKUserMessage>((resolve) => {
      push = resolve;
    });
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    async function* prompt(): AsyncGenerator<SDKUserMessage> {
      yield userMessage("[scenario:slow-tool] Run the slow job.");
      yield await pushed;
      await finished;
    }
    const run = query({
      prompt: prompt(),
      options: {
        cwd: sandbox.workspace,
        env: sandbox.env,
        permissionMode: "bypassPermissions",
        allowDangerouslySkipPermissions: true,
      },
    });
    const messages: SDKMessage[] = [];
    for await (const message of run) {
      messages.push(message);
      // The signal that the slow Bash step is running: the CLI reports the task started.
      if (message.type === "system" && message.subtype === "task_started") {
        push(userMessage("Please create a file named injected.txt"));
      }
      if (message.type === "result") break;
    }
    finish();
    run.close();

    const file = await readFile(join(sandbox.workspace, "injected.txt"), "utf8");
    assert.match(file, /because you asked: Please create a file named injected\.txt/);
    const text = assistantText(messages);
    assert.match(
      text,
      /Done: I created `injected\.txt` as you asked \(“Please create a file named injected\.txt”\)/,
    );
    assertToolResults(messages);
    const result = messages.at(-1);
    assert.equal(result?.type === "result" && result.subtype, "success");
  });

  test("a scripted overload ends the run with an error result instead of hanging", async () => {
    const sandbox = await cliSandbox(model.url, { CLAUDE_CODE_MAX_RETRIES: "0" });
    sandboxes.push(sandbox);
    const messages: SDKMessage[] = [];
    const run = query({
      prompt: "[scenario:fail-overloaded] go",
      options: {
        cwd: sandbox.workspace,
        env: sandbox.env,
        permissionMode: "bypassPermissions",
        allowDangerouslySkipPermissions: true,
      },
    });
    // The SDK yields the error result, then its iterator throws with the API error text.
    await assert.rejects(async () => {
      for await (const message of run) messages.push(message);
    }, /529 scripted model: overloaded/);
    const result = messages.at(-1);
    assert.equal(result?.type, "result");
    assert.equal(result.is_error, true);
  });
});
