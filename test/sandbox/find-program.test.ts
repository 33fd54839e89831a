import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { findProgram } from "../../src/sandbox/find-program.ts";

describe("findProgram", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "omoi-find-program-"));
    for (const dir of ["first", "second", "plain", "folder"]) mkdirSync(path.join(root, dir));
    const program = (dir: string, mode: number) => {
      const file = path.join(root, dir, "tool");
      writeFileSync(file, "#!/bin/sh\n");
      chmodSync(file, mode);
    };
    program("first", 0o755);
    program("second", 0o755);
    program("plain", 0o644);
    mkdirSync(path.join(root, "folder", "tool"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const searchPath = (...dirs: string[]) =>
    dirs.map((dir) => path.join(root, dir)).join(path.delimiter);

  it("returns the first executable file on the path, as `which` does", () => {
    assert.equal(
      findProgram("tool", searchPath("first", "second")),
      path.join(root, "first", "tool"),
    );
    assert.equal(
      findProgram("tool", searchPath("second", "first")),
      path.join(root, "second", "tool"),
    );
  });

  it("passes over files that are not executable and folders of that name", () => {
    assert.equal(
      findProgram("tool", searchPath("plain", "folder", "second")),
      path.join(root, "second", "tool"),
    );
    assert.equal(findProgram("tool", searchPath("plain", "folder")), null);
  });

  it("searches this process's PATH by default and answers with an absolute path", () => {
    const found = findProgram("sh");
    assert.ok(found && path.isAbsolute(found), "sh on PATH");
    assert.equal(findProgram("omoi-no-such-program"), null);
  });
});
