import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { git, gitText } from "../../src/repo/git.ts";

export async function tempDir(
  t: { after(fn: () => Promise<void> | void): void },
  prefix = "omoi-repo-",
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const identity = {
  GIT_AUTHOR_NAME: "Person",
  GIT_AUTHOR_EMAIL: "person@example.com",
  GIT_COMMITTER_NAME: "Person",
  GIT_COMMITTER_EMAIL: "person@example.com",
};

/** Writes files into a work tree and commits them. */
export async function commitFiles(
  tree: string,
  files: Record<string, string>,
  message: string,
): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(tree, name)), { recursive: true });
    await writeFile(path.join(tree, name), content);
  }
  await git(["add", "--all"], { cwd: tree });
  await git(["commit", "--quiet", "-m", message], { cwd: tree, env: identity });
  return gitText(["rev-parse", "HEAD"], { cwd: tree });
}

/**
 * A bare repository `<root>/<name>.git` with `main` (two commits), a `release` branch and a
 * tag, as a person's remote would be.
 */
export async function makeRemote(root: string, name = "project"): Promise<string> {
  const bare = path.join(root, `${name}.git`);
  const seed = path.join(root, `${name}-seed`);
  await git(["init", "--quiet", "--bare", bare]);
  await git(["init", "--quiet", "-b", "main", seed]);
  await commitFiles(
    seed,
    { "README.md": "# project\n", "src/app.js": "console.log(1);\n" },
    "first",
  );
  await commitFiles(seed, { "src/util.js": "export const one = 1;\n" }, "second");
  await git(["branch", "release"], { cwd: seed });
  await git(["tag", "v1"], { cwd: seed });
  await git(["push", "--quiet", bare, "main", "release", "v1"], { cwd: seed });
  await git(["symbolic-ref", "HEAD", "refs/heads/main"], { cwd: bare });
  return bare;
}

/**
 * Like `makeRemote`, but its server protects every branch: its own pre-receive hook refuses
 * each push with a message (run by `git http-backend` when served over smart HTTP).
 */
export async function makeGuardedRemote(root: string, name = "guarded"): Promise<string> {
  const bare = await makeRemote(root, name);
  const hook = path.join(bare, "hooks", "pre-receive");
  await writeFile(hook, "#!/bin/sh\necho 'protected branch: pushes need review' >&2\nexit 1\n");
  await chmod(hook, 0o755);
  return bare;
}

/** Every ref of a repository and where it points. */
export async function refsOf(repository: string): Promise<Record<string, string>> {
  const text = await gitText(["for-each-ref", "--format=%(refname) %(objectname)"], {
    cwd: repository,
  });
  return Object.fromEntries(
    text
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ") as [string, string]),
  );
}

export interface GitHttpServer {
  url: string;
  requests: { method: string; url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

/**
 * Serves the bare repositories under `root` over git's smart HTTP protocol through Debian
 * git's `git http-backend` (CGI), behind HTTP basic authentication.
 */
export async function serveGitHttp(
  root: string,
  credentials:
    | { username: string; password: string }
    | ((username: string, password: string) => boolean),
  options: {
    /** `v0`: the server ignores a client's request for protocol v2 (as older servers do). */
    protocol?: "v0" | "v2";
    /** Whether a request without credentials is served (a public repository) right now. */
    anonymous?: () => boolean;
  } = {},
): Promise<GitHttpServer> {
  const allowed = (header: string | undefined) => {
    const match = /^Basic (.+)$/.exec(header ?? "");
    if (!match) return null;
    const decoded = Buffer.from(match[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const ok =
      typeof credentials === "function"
        ? credentials(username, password)
        : username === credentials.username && password === credentials.password;
    return ok ? username : null;
  };
  const requests: GitHttpServer["requests"] = [];
  const server = http.createServer((request, response) => {
    requests.push({
      method: request.method ?? "",
      url: request.url ?? "",
      authorization: request.headers.authorization,
    });
    const anonymous = request.headers.authorization === undefined && options.anonymous?.() === true;
    const user = anonymous ? "" : allowed(request.headers.authorization);
    if (user === null) {
      response.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
      response.end("authentication required\n");
      return;
    }
    const url = new URL(request.url ?? "/", "http://localhost");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      REQUEST_METHOD: request.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers["content-type"] ?? "",
      REMOTE_USER: user,
      REMOTE_ADDR: "127.0.0.1",
      ...(request.headers["content-encoding"]
        ? { HTTP_CONTENT_ENCODING: request.headers["content-encoding"] }
        : {}),
      GIT_PROTOCOL: options.protocol === "v0" ? "" : String(request.headers["git-protocol"] ?? ""),
    };
    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "inherit"] });
    request.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) {
        response.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      response.writeHead(status, headers);
      response.write(head.subarray(end + 4));
    });
    child.stdout.on("end", () => response.end());
    child.on("error", () => {
      response.statusCode = 500;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
