import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { OmoiError } from "../protocol/error.ts";
import { RepoError } from "./errors.ts";
import { git, gitRaw, gitText } from "./git.ts";
import type { RepoSource } from "./source.ts";

/** How a task names an uploaded repository in `repo`. */
export const UPLOAD_PREFIX = "upload:";
const UPLOAD_ID = /^upl_[0-9a-f]{24}$/;
/** Most refs a bundle may name: a checkout's branches, not a way to fill the data dir with refs. */
export const MAX_BUNDLE_REFS = 1000;

export interface UploadedRepository {
  id: string;
  /** What a task passes as `repo`. */
  repo: string;
  branches: string[];
  default_branch: string;
  size_bytes: number;
}

/**
 * Repositories a person sends as a git bundle (the CLI, when the server runs on another
 * machine). A bundle is hostile input: it is written to the data dir with a size limit,
 * checked with `git bundle verify` in an empty repository (so it must be complete), and only
 * its branches are fetched — with Omoi's pinned git settings and every object checked
 * (`fetch.fsckObjects`) — into a bare repository nothing ever checks out on the trusted side.
 * That repository then serves as a task's remote: the mirror fetches from it, results are
 * pushed into it, and `GET /api/v1/tasks/{id}/bundle` hands them back.
 */
export class RepoUploads {
  readonly #dir: string;

  constructor(
    dir: string,
    readonly maxBytes: number,
  ) {
    this.#dir = path.resolve(dir);
  }

  /** Stores a bundle read from `body`; `headBranch` is the branch the person was on. */
  async receive(
    body: Readable,
    options: { declaredBytes?: number; headBranch?: string } = {},
  ): Promise<UploadedRepository> {
    // Refused unread; the route closes the connection.
    if (options.declaredBytes !== undefined && options.declaredBytes > this.maxBytes) {
      throw tooLarge(this.maxBytes);
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const id = `upl_${randomBytes(12).toString("hex")}`;
    const bundle = path.join(this.#dir, `${id}.bundle`);
    const staging = path.join(this.#dir, `${id}.git.tmp`);
    try {
      const size = await this.#save(body, bundle);
      await git(["init", "--bare", "--quiet", staging]);
      const verified = await gitRaw(["bundle", "verify", bundle], { cwd: staging });
      if (verified.code !== 0) {
        throw new RepoError(
          "invalid_bundle",
          /lacks these prerequisite/i.test(verified.stderr)
            ? "the bundle is not complete (it needs commits the server does not have); send the whole history"
            : "the upload is not a valid git bundle",
        );
      }
      const listed = await gitRaw(["bundle", "list-heads", bundle], {
        cwd: staging,
        maxOutputBytes: MAX_BUNDLE_REFS * 1024,
      }).catch(() => null);
      const heads = listed?.code === 0 ? listed.stdout.toString("utf8") : null;
      if (heads === null || heads.split("\n").filter(Boolean).length > MAX_BUNDLE_REFS) {
        throw new RepoError(
          "invalid_bundle",
          `the bundle names more than ${MAX_BUNDLE_REFS} refs; send only the branches the task needs`,
        );
      }
      const branches = [...heads.matchAll(/^[0-9a-f]{40,64} refs\/heads\/(\S+)$/gm)].map(
        (match) => match[1],
      );
      if (branches.length === 0) {
        throw new RepoError("invalid_bundle", "the bundle holds no branch");
      }
      const fetched = await gitRaw(
        [
          "fetch",
          "--quiet",
          "--no-tags",
          "--no-write-fetch-head",
          bundle,
          "+refs/heads/*:refs/heads/*",
        ],
        { cwd: staging, config: ["fetch.fsckObjects=true", "transfer.fsckObjects=true"] },
      );
      if (fetched.code !== 0) {
        throw new RepoError("invalid_bundle", "the bundle's objects did not pass git's checks");
      }
      // git skips refs whose names it refuses (`refs/heads/../x`); a name that reads as an
      // option is valid to git but no task could use it: neither is kept.
      const names = (
        await gitText(["for-each-ref", "--format=%(refname:strip=2)", "refs/heads"], {
          cwd: staging,
        })
      )
        .split("\n")
        .filter(Boolean);
      const unusable = names.filter((name) => name.startsWith("-") || name.length > 200);
      if (unusable.length > 0) {
        await git(["update-ref", "--stdin"], {
          cwd: staging,
          input: unusable.map((name) => `delete refs/heads/${name}\n`).join(""),
        });
      }
      const stored = names.filter((name) => !unusable.includes(name));
      if (stored.length === 0) {
        throw new RepoError("invalid_bundle", "the bundle holds no branch a task can use");
      }
      const head =
        [options.headBranch, "main", "master"].find(
          (name) => name !== undefined && stored.includes(name),
        ) ?? stored[0];
      await git(["symbolic-ref", "HEAD", `refs/heads/${head}`], { cwd: staging });
      await rename(staging, path.join(this.#dir, `${id}.git`));
      return {
        id,
        repo: `${UPLOAD_PREFIX}${id}`,
        branches: stored,
        default_branch: head,
        size_bytes: size,
      };
    } finally {
      await rm(bundle, { force: true });
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Whether `source` is one of these uploads. */
  holds(source: RepoSource): boolean {
    return source.kind === "local" && path.dirname(source.location) === this.#dir;
  }

  /** The source of `upload:<id>`, or null when `input` does not name an upload. */
  async source(input: string): Promise<RepoSource | null> {
    if (!input.startsWith(UPLOAD_PREFIX)) return null;
    const id = input.slice(UPLOAD_PREFIX.length);
    const location = path.join(this.#dir, `${id}.git`);
    const exists =
      UPLOAD_ID.test(id) &&
      (await stat(path.join(location, "HEAD")).then(
        () => true,
        () => false,
      ));
    if (!exists) throw new RepoError("not_found", `no uploaded repository '${input}'`);
    return { kind: "local", location, display: input, credential: null };
  }

  /**
   * Writes the body to `file`, counting. Past the limit it stops reading without destroying
   * the request, so the route can still answer 413 (and drain or close the connection).
   */
  async #save(body: Readable, file: string): Promise<number> {
    const out = createWriteStream(file, { flags: "wx", mode: 0o600 });
    const limit = this.maxBytes;
    let size = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const stop = (error: Error) => {
          body
            .off("data", onData)
            .off("end", onEnd)
            .off("error", onBroken)
            .off("aborted", onBroken);
          body.pause();
          reject(error);
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) return stop(tooLarge(limit));
          if (!out.write(chunk)) {
            body.pause();
            out.once("drain", () => body.resume());
          }
        };
        const onEnd = () => out.end(() => resolve());
        const onBroken = () =>
          stop(new RepoError("invalid_bundle", "the upload was cut off before its end"));
        out.once("error", stop);
        body
          .on("data", onData)
          .once("end", onEnd)
          .once("error", onBroken)
          .once("aborted", onBroken);
      });
    } finally {
      out.destroy();
    }
    return size;
  }
}

function tooLarge(limit: number): OmoiError {
  return new OmoiError(
    "PayloadTooLarge",
    `the bundle is larger than this server's limit of ${limit} bytes (OMOI_UPLOAD_MAX_BYTES); push the repository somewhere the server can fetch it and pass its URL instead`,
    413,
    { limit_bytes: limit },
  );
}
