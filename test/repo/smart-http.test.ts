import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { test } from "node:test";
import { RepoError } from "../../src/repo/errors.ts";
import { git } from "../../src/repo/git.ts";
import { Mirror } from "../../src/repo/mirror.ts";
import { listRemoteHeads } from "../../src/repo/smart-http.ts";
import { parseRepoSource } from "../../src/repo/source.ts";
import { commitFiles, makeRemote, serveGitHttp, tempDir } from "./fixtures.ts";

const USER = { username: "person", password: "s3cret-pass" };
const CREDENTIAL = { kind: "basic" as const, ...USER };

/** What git itself lists (`ls-remote --symref`), in the same shape. */
async function gitListing(url: string) {
  const auth = Buffer.from(`${USER.username}:${USER.password}`).toString("base64");
  const result = await git(["ls-remote", "--symref", url], {
    config: [`http.extraHeader=Authorization: Basic ${auth}`],
  });
  const branches = new Map<string, string>();
  let defaultBranch: string | null = null;
  for (const line of result.stdout.toString("utf8").split("\n")) {
    const symbolic = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
    if (symbolic) defaultBranch = symbolic[1];
    const branch = /^([0-9a-f]{40})\trefs\/heads\/(\S+)$/.exec(line);
    if (branch) branches.set(branch[2], branch[1]);
  }
  return { defaultBranch, branches };
}

/** A remote with many branches and a default branch other than the first. */
async function busyRemote(root: string) {
  const bare = await makeRemote(root, "busy");
  const seed = path.join(root, "busy-seed");
  for (const name of ["feature/a", "feature/b", "zeta", "naïve-ünïcode"]) {
    await git(["checkout", "--quiet", "-b", name, "main"], { cwd: seed });
    await commitFiles(seed, { [`${name}.txt`]: name }, `on ${name}`);
    await git(["push", "--quiet", bare, name], { cwd: seed });
  }
  await git(["symbolic-ref", "HEAD", "refs/heads/release"], { cwd: bare });
  return bare;
}

for (const protocol of ["v2", "v0"] as const) {
  test(`a remote's branches and default branch read in process match git's own listing (protocol ${protocol})`, async (t) => {
    const root = await tempDir(t);
    await busyRemote(root);
    const server = await serveGitHttp(root, USER, { protocol });
    t.after(() => server.close());
    const url = `${server.url}/busy.git`;
    const heads = await listRemoteHeads(url, CREDENTIAL);
    assert.ok(heads, "the listing was read in process");
    // v2: the capabilities, then `ls-refs`; v0: the one advertisement.
    assert.equal(server.requests.length, protocol === "v2" ? 2 : 1);
    // Asked again, a v2 server is asked for the listing at once.
    assert.deepEqual(await listRemoteHeads(url, CREDENTIAL), heads);
    assert.equal(server.requests.length, protocol === "v2" ? 3 : 2);
    assert.deepEqual(heads, await gitListing(url));
    assert.equal(heads.defaultBranch, "release");
    assert.equal(heads.branches.size, 6);
    // Tags are not branches.
    assert.ok(![...heads.branches.keys()].some((name) => name.includes("v1")));
  });

  test(`an empty repository lists no branches (protocol ${protocol})`, async (t) => {
    const root = await tempDir(t);
    await git(["init", "--quiet", "--bare", path.join(root, "empty.git")]);
    const server = await serveGitHttp(root, USER, { protocol });
    t.after(() => server.close());
    const heads = await listRemoteHeads(`${server.url}/empty.git`, CREDENTIAL);
    assert.deepEqual(heads, { defaultBranch: null, branches: new Map() });
  });
}

test("a server that spoke v2 and no longer does is still listed right", async (t) => {
  const root = await tempDir(t);
  await busyRemote(root);
  const options: { protocol: "v0" | "v2" } = { protocol: "v2" };
  const server = await serveGitHttp(root, USER, options);
  t.after(() => server.close());
  const url = `${server.url}/busy.git`;
  const expected = await gitListing(url);
  assert.deepEqual(await listRemoteHeads(url, CREDENTIAL), expected);
  options.protocol = "v0";
  await git(["update-ref", "refs/heads/zeta", "refs/heads/main"], {
    cwd: path.join(root, "busy.git"),
  });
  const moved = await listRemoteHeads(url, CREDENTIAL);
  assert.deepEqual(moved, await gitListing(url));
  assert.equal(moved?.branches.get("zeta"), expected.branches.get("main"));
});

test("anything but a clean listing is left to git: refusals, missing repositories, redirects, other servers", async (t) => {
  const root = await tempDir(t);
  await makeRemote(root);
  const server = await serveGitHttp(root, USER);
  t.after(() => server.close());
  assert.equal(await listRemoteHeads(`${server.url}/project.git`, null), null);
  assert.equal(
    await listRemoteHeads(`${server.url}/project.git`, { ...CREDENTIAL, password: "wrong" }),
    null,
  );
  assert.equal(await listRemoteHeads(`${server.url}/missing.git`, CREDENTIAL), null);
  // URLs git reads in its own way.
  assert.equal(await listRemoteHeads(`${server.url}/project.git?x=1`, CREDENTIAL), null);
  assert.equal(await listRemoteHeads("file:///srv/project.git", CREDENTIAL), null);

  // A server answering whatever it likes.
  const answers: Record<string, (response: http.ServerResponse) => void> = {
    "/redirect.git": (response) => {
      response.writeHead(302, { Location: `${server.url}/project.git/info/refs` }).end();
    },
    "/html.git": (response) => {
      response.writeHead(200, { "Content-Type": "text/html" }).end("<html>sign in</html>");
    },
    "/garbage.git": (response) => {
      response
        .writeHead(200, { "Content-Type": "application/x-git-upload-pack-advertisement" })
        .end("zzzz not pkt-lines");
    },
    "/truncated.git": (response) => {
      response
        .writeHead(200, { "Content-Type": "application/x-git-upload-pack-advertisement" })
        .end("001e# service=git-upload-pack\n00000040deadbeef");
    },
    "/huge.git": (response) => {
      response.writeHead(200, { "Content-Type": "application/x-git-upload-pack-advertisement" });
      const line = `0044${"a".repeat(40)} refs/heads/${"b".repeat(11)}\n`;
      const chunk = line.repeat(1000);
      let sent = 0;
      const more = () => {
        while (sent < 20 * 1024 * 1024) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once("drain", more);
        }
        response.end("0000");
      };
      more();
    },
  };
  const seen: string[] = [];
  const other = http.createServer((request, response) => {
    seen.push(request.headers.authorization ?? "");
    const key = Object.keys(answers).find((name) => request.url?.startsWith(name));
    if (key) answers[key](response);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => other.close(() => resolve())));
  other.on("connection", (socket) => t.after(() => socket.destroy()));
  const base = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  for (const name of Object.keys(answers)) {
    assert.equal(await listRemoteHeads(`${base}${name}`, CREDENTIAL), null, name);
  }
  // The redirect was not followed: the credential went to the one origin only.
  assert.equal(server.requests.filter((request) => request.url.includes("info/refs")).length, 3);
  assert.equal(seen.length, Object.keys(answers).length);
});

test("a mirror's check of a remote says the same over the fast path and over git, and git's errors stay", async (t) => {
  const root = await tempDir(t);
  await busyRemote(root);
  const server = await serveGitHttp(root, USER);
  t.after(() => server.close());
  const mirrors = path.join(root, "mirrors");
  const open = (url: string, credential = CREDENTIAL) =>
    new Mirror(mirrors, parseRepoSource(url, { forbiddenRoots: [], credential }));
  const heads = await open(`${server.url}/busy.git`).inspect();
  assert.deepEqual(heads, await gitListing(`${server.url}/busy.git`));
  // Refused and missing: git is asked, and its clear errors are what a person sees.
  await assert.rejects(
    open(`${server.url}/busy.git`, { ...CREDENTIAL, password: "nope-nope" }).inspect(),
    (error) => error instanceof RepoError && error.code === "auth_refused",
  );
  await assert.rejects(
    open(`${server.url}/nothing-here.git`).inspect(),
    (error) => error instanceof RepoError && error.code === "not_found",
  );
});
