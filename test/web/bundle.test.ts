import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { build } from "vite";
import { PROJECT_ROOT, tempDir } from "../helpers/omoi.ts";

/*
 * The web app takes the protocol's types, never its zod schemas: `import type` everywhere,
 * values only from the protocol modules that have no zod. Checked on a real build.
 */

const out = tempDir();
after(() => out.remove());

describe("the web bundle", () => {
  it("carries no zod", async () => {
    await build({
      root: path.join(PROJECT_ROOT, "web"),
      logLevel: "silent",
      build: { outDir: out.dir, emptyOutDir: true },
    });
    const scripts = readdirSync(path.join(out.dir, "assets")).filter((name) =>
      name.endsWith(".js"),
    );
    assert.ok(scripts.length > 0);
    for (const name of scripts) {
      const text = readFileSync(path.join(out.dir, "assets", name), "utf8");
      // zod names every schema class with a `$Zod…` string that survives minifying.
      assert.doesNotMatch(text, /[`"']\$Zod[A-Za-z0-9]+/, `${name} contains zod`);
    }
  });
});
