import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { manifestPath } from "../../src/sandbox/bundle-cache.ts";
import { buildWorker, WORKER_BUNDLE } from "../../src/sandbox/worker-build.ts";

/** A tiny project standing in for the worker's sources: an entry and the module it imports. */
function makeProject(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "omoi-worker-build-"));
  writeFileSync(path.join(root, "package.json"), '{ "type": "module" }');
  writeFileSync(
    path.join(root, "entry.ts"),
    'import { greeting } from "./greeting.ts";\nconsole.log(greeting);\n',
  );
  writeFileSync(path.join(root, "greeting.ts"), 'export const greeting: string = "hello";\n');
  return root;
}

function optionsFor(root: string) {
  return { root, entry: path.join(root, "entry.ts"), bundle: path.join(root, "out", "main.mjs") };
}

/** What the bundle prints when run: proves it is whole and built from the current sources. */
function runBundle(root: string): string {
  return execFileSync(process.execPath, [optionsFor(root).bundle], { encoding: "utf8" }).trim();
}

function identity(file: string): string {
  const stats = statSync(file);
  return `${stats.ino}:${stats.mtimeMs}`;
}

describe("the worker bundle kept between starts", () => {
  let root: string;
  before(() => {
    root = makeProject();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("is compiled on a first start and reused, untouched, on the next", async () => {
    const first = await buildWorker(optionsFor(root));
    assert.equal(first.reused, false);
    assert.deepEqual(first.command, [process.execPath, optionsFor(root).bundle]);
    const before = identity(optionsFor(root).bundle);

    const second = await buildWorker(optionsFor(root));
    assert.equal(second.reused, true);
    assert.equal(identity(optionsFor(root).bundle), before);
    assert.equal(runBundle(root), "hello");
  });

  it("is compiled again when a source it was built from changed, even with its old mtime", async () => {
    const source = path.join(root, "greeting.ts");
    const { atime, mtime } = statSync(source);
    writeFileSync(source, 'export const greeting: string = "bonjour";\n');
    utimesSync(source, atime, mtime);

    assert.equal((await buildWorker(optionsFor(root))).reused, false);
    assert.equal(runBundle(root), "bonjour");
    assert.equal((await buildWorker(optionsFor(root))).reused, true);
  });

  it("is compiled again when a file steering compilation appears (a tsconfig.json)", async () => {
    writeFileSync(path.join(root, "tsconfig.json"), "{}");
    assert.equal((await buildWorker(optionsFor(root))).reused, false);
    assert.equal((await buildWorker(optionsFor(root))).reused, true);
  });

  it("is compiled again, not trusted, when the bundle was cut short", async () => {
    truncateSync(optionsFor(root).bundle, 20);
    assert.equal((await buildWorker(optionsFor(root))).reused, false);
    assert.equal(runBundle(root), "bonjour");
  });

  it("is compiled again when its manifest is corrupt, of another shape, or gone", async () => {
    const manifest = manifestPath(optionsFor(root).bundle);
    for (const damage of [
      () => writeFileSync(manifest, readFileSync(manifest, "utf8").slice(0, 40)),
      () => writeFileSync(manifest, '{"format":1,"files":[]}'),
      () => rmSync(manifest),
    ]) {
      damage();
      assert.equal((await buildWorker(optionsFor(root))).reused, false);
      assert.equal((await buildWorker(optionsFor(root))).reused, true);
    }
  });

  it("is not vouched for when a source was modified while it was being compiled", async () => {
    const source = path.join(root, "greeting.ts");
    writeFileSync(source, 'export const greeting: string = "hola";\n');
    // Written after the build began (as an editor saving mid-build would).
    const later = new Date(Date.now() + 60_000);
    utimesSync(source, later, later);
    assert.equal((await buildWorker(optionsFor(root))).reused, false);
    assert.equal(runBundle(root), "hola");
    // What esbuild read cannot be known: the next start compiles again.
    assert.equal((await buildWorker(optionsFor(root))).reused, false);
  });
});

describe("servers starting at the same moment", () => {
  let root: string;
  before(() => {
    root = makeProject();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("leave one complete bundle, which the next start reuses, and no stray files", async () => {
    const builds = await Promise.all([1, 2, 3, 4].map(() => buildWorker(optionsFor(root))));
    assert.ok(builds.every((build) => build.command[1] === optionsFor(root).bundle));
    assert.equal(runBundle(root), "hello");
    assert.deepEqual(readdirSync(path.join(root, "out")).sort(), [
      "main.mjs",
      "main.mjs.manifest.json",
    ]);
    assert.equal((await buildWorker(optionsFor(root))).reused, true);
  });
});

describe("the real worker", () => {
  it("is reused on a second start: every file it is built from can be vouched for", async () => {
    const first = await buildWorker();
    assert.equal(first.command[1], WORKER_BUNDLE);
    const before = identity(WORKER_BUNDLE);
    const second = await buildWorker();
    assert.equal(second.reused, true);
    assert.equal(identity(WORKER_BUNDLE), before);
  });
});
