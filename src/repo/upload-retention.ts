import { lstat, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { TERMINAL_TASK_STATUSES } from "../protocol/status.ts";
import type { Store } from "../store/store.ts";
import { Mirror } from "./mirror.ts";
import { UPLOAD_PREFIX } from "./uploads.ts";

export interface UploadRetentionOptions {
  /** `<data dir>/uploads`. */
  uploadsDir: string;
  /** `<data dir>/mirrors`: the mirror Omoi made of each upload goes with it. */
  mirrorsDir: string;
  retentionMs: number;
  logger?: { info(details: object, message: string): void };
}

const PAGE = 500;
const UPLOAD = /^upl_[0-9a-f]{24}\.git$/;
/** What a receive leaves only when the server stopped in the middle of it. */
const LEFTOVER = /^upl_[0-9a-f]{24}\.(bundle|git\.tmp)$/;

/**
 * Uploaded repositories (`<data dir>/uploads/upl_….git`) are kept while a task still needs
 * them: an upload is deleted once it was received more than `retentionMs` ago and no task
 * that names it is unfinished or was updated within `retentionMs` (a follow-up, the result's
 * bundle and the pull request all read it). Its mirror goes with it. Only names Omoi makes
 * are touched, and `rm` removes a link rather than following it.
 */
export class UploadRetention {
  constructor(
    private readonly store: Store,
    private readonly options: UploadRetentionOptions,
  ) {}

  /** Deletes uploads past retention; returns the ids deleted. */
  async sweep(now = Date.now()): Promise<string[]> {
    const cutoff = now - this.options.retentionMs;
    const dir = path.resolve(this.options.uploadsDir);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const candidates: string[] = [];
    for (const name of entries) {
      if (!UPLOAD.test(name) && !LEFTOVER.test(name)) continue;
      const file = path.join(dir, name);
      const info = await lstat(file).catch(() => null);
      if (!info || info.mtimeMs > cutoff) continue;
      if (LEFTOVER.test(name)) await rm(file, { recursive: true, force: true });
      else candidates.push(name.slice(0, -".git".length));
    }
    if (candidates.length === 0) return [];
    const needed = await this.#needed(cutoff);
    const swept: string[] = [];
    for (const id of candidates) {
      if (needed.has(`${UPLOAD_PREFIX}${id}`)) continue;
      const location = path.join(dir, `${id}.git`);
      const mirror = new Mirror(this.options.mirrorsDir, {
        kind: "local",
        location,
        display: `${UPLOAD_PREFIX}${id}`,
        credential: null,
      });
      // The upload first: a task that races the sweep finds no upload (a clear 404), never a
      // mirror without its remote.
      await rm(location, { recursive: true, force: true });
      await rm(mirror.path, { recursive: true, force: true });
      swept.push(id);
    }
    if (swept.length > 0)
      this.options.logger?.info(
        { swept: swept.length },
        "deleted uploaded repositories past retention",
      );
    return swept;
  }

  /** The `repo` of every task that is unfinished or was updated since `cutoff`. */
  async #needed(cutoff: number): Promise<Set<string>> {
    const needed = new Set<string>();
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.store.listTasks({ limit: PAGE, offset });
      for (const task of page.tasks) {
        const url = task.repo?.url;
        if (!url?.startsWith(UPLOAD_PREFIX)) continue;
        if (task.updated_at > cutoff || !TERMINAL_TASK_STATUSES.includes(task.status))
          needed.add(url);
      }
      if (page.tasks.length < PAGE) return needed;
    }
  }
}
