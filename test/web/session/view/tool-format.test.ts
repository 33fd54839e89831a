import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  inputDetails,
  outputText,
  relativeTo,
  toolSummary,
} from "../../../../web/src/session/view/tool-format.ts";

describe("tool cards' text", () => {
  it("summarises a call by what it acts on", () => {
    assert.equal(
      toolSummary("Bash", { command: "npm test", description: "run tests" }),
      "npm test",
    );
    assert.equal(toolSummary("Read", { file_path: "/w/a.ts", limit: 5 }), "/w/a.ts");
    assert.equal(toolSummary("Custom", { anything: "x" }), "x");
    assert.equal(toolSummary("Custom", 42), "");
  });

  it("turns any output shape into text", () => {
    assert.equal(outputText([{ type: "text", text: "a" }, { type: "image" }]), "a\n[image]");
    assert.equal(outputText({ stdout: "out", stderr: "" }), "out");
    assert.equal(outputText({ content: "c" }), "c");
    assert.equal(outputText(null), "");
  });

  it("shows only the input the summary left out", () => {
    assert.equal(inputDetails("Bash", { command: "ls", description: "list" }), null);
    assert.equal(inputDetails("Bash", { command: "ls", timeout: 5 }), '{\n  "timeout": 5\n}');
  });

  it("shows paths relative to the agent's working directory", () => {
    assert.equal(relativeTo("/w/space", "/w/space/src/a.ts"), "src/a.ts");
    assert.equal(relativeTo("/w/space", "/w/space"), ".");
    assert.equal(relativeTo("/w/space", "/w/spaceship/a"), "/w/spaceship/a");
    assert.equal(relativeTo(null, "/x"), "/x");
  });
});
