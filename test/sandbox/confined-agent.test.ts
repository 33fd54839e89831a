import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { query } from "@anthropic-ai/claude-agent-sdk";
import { confine } from "../../src/sandbox/confine.ts";
import { startStubModel } from "./stub-model.ts";

test("the real SDK runs the Claude Code CLI inside srt; its Bash tool writes only the workspace", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "omoi-agent-"));
  const workspace = path.join(root, "data", "workspaces", "a");
  const stub = await startStubModel(
    `echo from-sandbox > proof.txt; echo x > '${root}/escape.txt' 2>/dev/null; echo x > /usr/omoi-escape.txt 2>/dev/null || echo write-refused`,
  );
  const confinement = await confine({
    sandboxId: "a",
    workspace,
    stateDir: path.join(root, "data", "sandbox-state", "a"),
    modelBaseUrl: stub.url,
    modelEnv: { ANTHROPIC_API_KEY: "real-key" },
    denyRead: [path.join(root, "data")],
    onStderr: () => {},
  });
  try {
    const seen: string[] = [];
    let toolOutput = "";
    for await (const message of query({
      prompt: "write the proof",
      options: {
        cwd: workspace,
        env: confinement.env,
        permissionMode: "bypassPermissions",
        allowDangerouslySkipPermissions: true,
        spawnClaudeCodeProcess: confinement.spawnClaudeCodeProcess,
      },
    })) {
      seen.push("subtype" in message ? `${message.type}/${message.subtype}` : message.type);
      if (message.type === "user" && Array.isArray(message.message.content)) {
        toolOutput += JSON.stringify(message.message.content);
      }
    }
    assert.ok(seen.includes("system/init"), seen.join(" "));
    assert.ok(seen.includes("result/success"), seen.join(" "));
    assert.match(toolOutput, /write-refused/);
    assert.equal(
      existsSync(path.join(root, "escape.txt")),
      false,
      "a hidden folder's write stays inside",
    );
    assert.equal(readFileSync(path.join(workspace, "proof.txt"), "utf8"), "from-sandbox\n");
    assert.ok(stub.seenCredentials.length >= 2);
    assert.ok(stub.seenCredentials.every((credential) => credential === "real-key"));
  } finally {
    await confinement.dispose();
    await stub.close();
    rmSync(root, { recursive: true, force: true });
  }
});
