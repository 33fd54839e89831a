import assert from "node:assert/strict";
import { test } from "node:test";
import { RepoError } from "../../src/repo/errors.ts";
import { gitRaw } from "../../src/repo/git.ts";
import { checkBranchName } from "../../src/repo/workspace.ts";

test("branch names are judged as git judges them, without a git process", async () => {
  const names = [
    "main",
    "feature/x",
    "omoi/fix-the-test-1a2b3c",
    "a.b",
    "v1.2.3",
    "naïve",
    "@",
    "a@b",
    "x/@/y",
    "HEAD",
    "-dash",
    "",
    "/lead",
    "trail/",
    "dou//ble",
    "a..b",
    ".hidden",
    "dir/.hidden",
    "x.lock",
    "dir/x.lock/y",
    "x.lock.not",
    "end.",
    "dir./x",
    "a b",
    "tab\tx",
    "nl\nx",
    "del\u007fx",
    "til~de",
    "car^et",
    "co:lon",
    "que?ry",
    "st*ar",
    "brack[et",
    "back\\slash",
    "at@{brace",
    "brace}",
    "a".repeat(200),
    "a".repeat(201),
    "x/./y",
    "x/../y",
    "emoji-🙂",
  ];
  for (const name of names) {
    const byGit =
      (await gitRaw(["check-ref-format", `refs/heads/${name}`])).code === 0 &&
      !name.startsWith("-") &&
      name.length <= 200;
    let ours = true;
    try {
      checkBranchName(name);
    } catch (error) {
      assert.ok(error instanceof RepoError && error.code === "invalid_branch");
      ours = false;
    }
    assert.equal(ours, byGit, JSON.stringify(name));
  }
});
