import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { git, gitText } from "../src/repo/git.ts";
import { type GitHttpServer, serveGitHttp } from "../test/repo/fixtures.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { expectStatus } from "./lib/http.ts";
import type { BenchServer } from "./lib/server.ts";

/** The issue's "about 10,000 files and 200 MB". */
export const BIG_REPO = { files: 10_000, megabytes: 200 } as const;
const USER = { username: "bench", password: "bench-password-0123456789" };
const IDENTITY = "Person <person@example.com> 1700000000 +0000";

/** A seeded generator (mulberry32): the same repository on every run and machine. */
function generator(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Source-like text files (lines of words from a 2,000-word vocabulary, so they compress
 * about as well as code does), `files` of them in 100 × 10 folders, `megabytes` in all.
 */
function* sourceFiles(files: number, megabytes: number) {
  const random = generator(20_261_201);
  const words = Array.from({ length: 2000 }, (_, index) => {
    const word = Math.floor(random() * 36 ** 6).toString(36);
    return index % 7 === 0 ? `${word}()` : word;
  });
  const mean = (megabytes * 1_000_000) / files;
  for (let index = 0; index < files; index++) {
    const size = Math.round(mean * (0.5 + random()));
    const lines: string[] = [];
    let length = 0;
    while (length < size) {
      const line = `${Array.from({ length: 8 }, () => words[Math.floor(random() * words.length)]).join(" ")};\n`;
      lines.push(line);
      length += line.length;
    }
    const folder = `pkg${String(index % 100).padStart(2, "0")}/mod${Math.floor(index / 100) % 10}`;
    yield { name: `${folder}/file${index}.js`, content: Buffer.from(lines.join("")) };
  }
}

/**
 * Builds the bare repository `<root>/big.git` (one commit on `main`) with `git fast-import`,
 * which writes the pack directly: no work tree, each file hashed once.
 */
async function buildBigRepository(root: string): Promise<string> {
  const bare = path.join(root, "big.git");
  await git(["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  const importer = spawn("git", ["fast-import", "--quiet"], {
    cwd: bare,
    env: { ...process.env, GIT_DIR: bare },
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  importer.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number>((resolve) =>
    importer.on("close", (code) => resolve(code ?? 1)),
  );
  const write = (data: string | Buffer) =>
    importer.stdin.write(data)
      ? Promise.resolve()
      : new Promise((resolve) => importer.stdin.once("drain", resolve));
  const names: string[] = [];
  for (const file of sourceFiles(BIG_REPO.files, BIG_REPO.megabytes)) {
    names.push(file.name);
    await write(`blob\nmark :${names.length}\ndata ${file.content.length}\n`);
    await write(file.content);
    await write("\n");
  }
  const message = "A large repository for the benchmark\n";
  await write(
    `commit refs/heads/main\ncommitter ${IDENTITY}\ndata ${Buffer.byteLength(message)}\n${message}`,
  );
  await write(`${names.map((name, index) => `M 100644 :${index + 1} ${name}`).join("\n")}\n\n`);
  importer.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr.slice(0, 500)}`);
  return bare;
}

export interface BigRepository {
  /** The bare repository the HTTP server serves. */
  bare: string;
  http: GitHttpServer;
  url: string;
  credential: { kind: "basic"; username: string; password: string };
  /** How long building it took, ms. */
  builtMs: number;
  /** Its size: files and bytes of the work tree, bytes of the pack. */
  files: number;
  bytes: number;
  close(): Promise<void>;
}

/**
 * The large repository on loopback smart HTTP (git http-backend behind basic authentication,
 * as the repository tests serve theirs), built once per run in a temp dir.
 */
export async function serveBigRepository(): Promise<BigRepository> {
  const root = await mkdtemp(path.join(os.tmpdir(), "omoi-bench-repo-"));
  const removeRoot = onCleanup(() => rm(root, { recursive: true, force: true }));
  const started = performance.now();
  const bare = await buildBigRepository(root);
  const builtMs = performance.now() - started;
  const bytes = Number(
    await gitText(["cat-file", "--batch-check=%(objectsize)", "--batch-all-objects"], {
      cwd: bare,
    }).then((text) =>
      text
        .split("\n")
        .filter(Boolean)
        .reduce((sum, size) => sum + Number(size), 0),
    ),
  );
  const http = await serveGitHttp(root, USER);
  const stopHttp = onCleanup(() => http.close());
  return {
    bare,
    http,
    url: `${http.url}/big.git`,
    credential: { kind: "basic", ...USER },
    builtMs,
    files: BIG_REPO.files,
    bytes,
    close: async () => {
      await stopHttp();
      await removeRoot();
    },
  };
}

/** Registers the repository with a server under `name` (its credential is checked then). */
export async function registerRepository(server: BenchServer, repo: BigRepository, name: string) {
  await expectStatus(201, server.url, "POST", "/api/v1/repositories", {
    name,
    url: repo.url,
    credential: repo.credential,
  });
}

/**
 * The floors of the two figures, on the same repository and server: writing its work tree
 * (`git checkout` of the base commit from a local clone: inflating and writing every file),
 * and pushing one small commit to a new branch over the same loopback HTTP.
 */
export async function openRepoFloors(repo: BigRepository) {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "omoi-bench-repo-floor-"));
  const removeScratch = onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const clone = path.join(scratch, "clone");
  await git(["clone", "--quiet", "--no-checkout", repo.bare, clone]);
  const base = await gitText(["rev-parse", "HEAD"], { cwd: clone });
  let index = 0;
  const credentials = Buffer.from(
    `${repo.credential.username}:${repo.credential.password}`,
  ).toString("base64");
  return {
    /** A checkout of the whole tree into an empty folder, ms. */
    async checkout(): Promise<number> {
      const tree = path.join(scratch, `tree-${index++}`);
      await mkdir(tree);
      const started = performance.now();
      await git(["--work-tree", tree, "checkout", "--quiet", "--force", base, "--", "."], {
        cwd: clone,
        env: { GIT_INDEX_FILE: path.join(scratch, `index-${index}`) },
      });
      const took = performance.now() - started;
      await rm(tree, { recursive: true, force: true });
      return took;
    },
    /** One commit of two small files pushed to a new branch over loopback HTTP, ms. */
    async push(): Promise<number> {
      const branch = `floor/${index++}`;
      const blob = await gitText(["hash-object", "-w", "--stdin"], {
        cwd: clone,
        input: `floor ${index}\n`,
      });
      const tree = await gitText(["mktree"], {
        cwd: clone,
        input: `100644 blob ${blob}\tNOTES.md\n100644 blob ${blob}\thello.py\n`,
      });
      const commit = await gitText(["commit-tree", tree, "-p", base, "-m", "floor"], {
        cwd: clone,
        env: {
          GIT_AUTHOR_NAME: "Person",
          GIT_AUTHOR_EMAIL: "person@example.com",
          GIT_COMMITTER_NAME: "Person",
          GIT_COMMITTER_EMAIL: "person@example.com",
        },
      });
      const started = performance.now();
      await git(["push", "--quiet", repo.url, `${commit}:refs/heads/${branch}`], {
        cwd: clone,
        config: [`http.extraHeader=Authorization: Basic ${credentials}`],
      });
      return performance.now() - started;
    },
    close: removeScratch,
  };
}

/** The prepared checkout of every mirror in the server's data dir (see `SpareCheckouts`). */
async function preparedCheckouts(dataDir: string): Promise<string[]> {
  const mirrors = path.join(dataDir, "mirrors");
  const names = await readdir(mirrors).catch(() => [] as string[]);
  return names.map((name) => path.join(mirrors, name, "omoi", "spare"));
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/**
 * Waits until the server has prepared the next checkout of each mirror (work it does in the
 * background after a task starts), so no measured window shares the machine with it.
 */
export async function waitForPreparedCheckouts(dataDir: string, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spares = await preparedCheckouts(dataDir);
    const ready = await Promise.all(spares.map(exists));
    if (spares.length > 0 && ready.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error("the server never prepared the next checkout");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Removes the prepared checkouts, so the next task clones (the first task's way). */
export async function discardPreparedCheckouts(dataDir: string) {
  for (const spare of await preparedCheckouts(dataDir))
    await rm(spare, { recursive: true, force: true });
}
