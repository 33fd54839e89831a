import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { machineIdentity } from "../repo/machine.ts";
import type { OmoiClient } from "./client.ts";
import { CliError, UsageError } from "./errors.ts";
import { fetchIntoBranch, localGit } from "./local-git.ts";

/*
 * A checkout travelling to a server on another machine, and the result coming back: the
 * repository's committed history goes up as a git bundle (plus, when asked, the uncommitted
 * changes as one commit on top), the task's branch comes back as a bundle. The person's
 * index, working tree, refs and object store are never written while sending.
 */

export interface RepoRequest {
  /** `--repo` as typed. */
  value: string | undefined;
  /** `--upload`: send a bundle even when the server is on this machine. */
  upload: boolean;
  /** `--include-uncommitted`: add the working tree's uncommitted changes as a commit. */
  includeUncommitted: boolean;
}

/** What `--repo` names, as the server takes it: a URL or name, a path, or `upload:<id>`. */
export async function repoForTask(
  request: RepoRequest,
  client: OmoiClient,
  note: (line: string) => void,
): Promise<string | undefined> {
  const { value } = request;
  const wantsBundle = request.upload || request.includeUncommitted;
  if (value === undefined) {
    if (wantsBundle) throw new UsageError("--upload and --include-uncommitted need --repo <path>");
    return undefined;
  }
  // An absolute path that does not exist here names a folder on the server's machine.
  const serverPath = path.isAbsolute(value) && !existsSync(value);
  if (!looksLikePath(value) || serverPath) {
    if (wantsBundle) {
      throw new UsageError("--upload and --include-uncommitted work with a checkout's path");
    }
    return value;
  }
  const top = await repositoryFolder(path.resolve(value));
  if (
    request.includeUncommitted &&
    (await localGit(["rev-parse", "--is-bare-repository"], top)) === "true"
  ) {
    throw new UsageError("--include-uncommitted needs a checkout with a working tree");
  }
  // The server says which machine it is on; a path means nothing to a server elsewhere.
  const health = await client.health();
  const details = "machine" in health ? health : undefined;
  const elsewhere = details?.machine !== undefined && details.machine !== machineIdentity();
  if (!wantsBundle && !elsewhere) return top;
  const bundle = await bundleCheckout(top, request.includeUncommitted);
  try {
    const { size } = await stat(bundle.file);
    const limit = details?.upload_max_bytes;
    if (limit !== undefined && size > limit) {
      throw new CliError(
        `the bundle of ${bundle.branch} is ${size} bytes, more than the server takes (${limit}, OMOI_UPLOAD_MAX_BYTES); push the branch somewhere the server can fetch it and pass --repo <url> instead`,
        1,
      );
    }
    const uploaded = await client.uploadBundle(bundle.file, bundle.branch);
    note(
      `sent ${bundle.branch}${bundle.uncommitted ? " with your uncommitted changes" : ""} as a git bundle (${uploaded.size_bytes} bytes)`,
    );
    return uploaded.repo;
  } finally {
    await rm(bundle.folder, { recursive: true, force: true });
  }
}

/** The top folder of the checkout `folder` is in, or the folder of a bare repository. */
async function repositoryFolder(folder: string): Promise<string> {
  const top = await localGit(["rev-parse", "--show-toplevel"], folder).catch(() => null);
  if (top) return top;
  const bare = await localGit(["rev-parse", "--is-bare-repository"], folder).catch(() => "false");
  if (bare === "true") return localGit(["rev-parse", "--absolute-git-dir"], folder);
  throw new CliError(`${folder} is not a git repository (or inside one)`, 1);
}

function looksLikePath(value: string): boolean {
  return (
    value === "." ||
    value === ".." ||
    value.startsWith("./") ||
    value.startsWith("../") ||
    path.isAbsolute(value)
  );
}

/**
 * Writes a bundle of the current branch. Everything git writes goes to a scratch repository
 * that borrows the checkout's objects (alternates): a scratch index, new objects, the ref.
 */
async function bundleCheckout(top: string, includeUncommitted: boolean) {
  const branch = await localGit(["symbolic-ref", "--quiet", "--short", "HEAD"], top).catch(() => {
    throw new CliError("check out a branch first: the bundle sends the branch you are on", 1);
  });
  const objects = path.resolve(top, await localGit(["rev-parse", "--git-path", "objects"], top));
  const folder = await mkdtemp(path.join(os.tmpdir(), "omoi-bundle-"));
  try {
    const scratch = path.join(folder, "scratch.git");
    await localGit(["init", "--quiet", "--bare", scratch], folder);
    await writeFile(path.join(scratch, "objects", "info", "alternates"), `${objects}\n`);
    let tip = await localGit(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], top).catch(
      () => {
        throw new CliError(`${branch} has no commits yet: there is nothing to send`, 1);
      },
    );
    let uncommitted = false;
    if (includeUncommitted) {
      const env = {
        GIT_INDEX_FILE: path.join(folder, "index"),
        GIT_OBJECT_DIRECTORY: path.join(scratch, "objects"),
        GIT_ALTERNATE_OBJECT_DIRECTORIES: objects,
      };
      await localGit(["read-tree", tip], top, env);
      await localGit(["add", "--all", "--", "."], top, env);
      const tree = await localGit(["write-tree"], top, env);
      if (tree !== (await localGit(["rev-parse", `${tip}^{tree}`], top))) {
        tip = await localGit(
          ["commit-tree", tree, "-p", tip, "-m", "Uncommitted changes (sent by omoi run)"],
          top,
          env,
        );
        uncommitted = true;
      }
    }
    await localGit(["update-ref", `refs/heads/${branch}`, tip], scratch);
    const file = path.join(folder, "repository.bundle");
    await localGit(["bundle", "create", "--quiet", file, `refs/heads/${branch}`], scratch);
    return { folder, file, branch, uncommitted };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}

/** Whether `omoi checkout` must bring the result as a bundle (the server cannot be reached by git). */
export function needsBundle(url: string): boolean {
  return url.startsWith("upload:") || (path.isAbsolute(url) && !existsSync(url));
}

/** Downloads the task's result as a bundle and fetches it into the checkout as `branch`. */
export async function fetchTaskBundle(client: OmoiClient, taskId: string, branch: string) {
  const folder = await mkdtemp(path.join(os.tmpdir(), "omoi-checkout-"));
  try {
    const file = path.join(folder, "result.bundle");
    const { ref } = await client.downloadBundle(taskId, file);
    await localGit(["bundle", "verify", "--quiet", file]);
    await fetchIntoBranch(file, ref, branch);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
