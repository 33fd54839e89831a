import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";

/** A result's bundle as Omoi names it, and the lock file git writes it through. */
const OUTGOING = /^[0-9a-f]{24}\.bundle(\.lock)?$/;
/** A bundle no download holds is a crash's leftover once it is this old. */
export const OUTGOING_MAX_AGE_MS = 60 * 60_000;

export interface OutgoingBundlesOptions {
  /** Default `OUTGOING_MAX_AGE_MS`. */
  maxAgeMs?: number;
  logger?: { info(details: object, message: string): void };
}

/**
 * The files a task's result travels in to a person (`GET /api/v1/tasks/{id}/bundle`):
 * `<data dir>/outgoing/<24 hex>.bundle`, each written for one download and removed when its
 * reader closes. A server that stops between the two leaves the file behind; `sweep` removes
 * such leftovers once they are older than `maxAgeMs`, never a file a download of this server
 * still holds. Only names Omoi makes are touched, and `rm` removes a link rather than
 * following it.
 */
export class OutgoingBundles {
  readonly dir: string;
  readonly #held = new Set<string>();
  readonly #maxAgeMs: number;

  constructor(
    dir: string,
    private readonly options: OutgoingBundlesOptions = {},
  ) {
    this.dir = path.resolve(dir);
    this.#maxAgeMs = options.maxAgeMs ?? OUTGOING_MAX_AGE_MS;
  }

  /** A fresh path for one download's bundle, held (never swept) until `release`. */
  async reserve(): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${randomBytes(12).toString("hex")}.bundle`);
    this.#held.add(file);
    return file;
  }

  /** The download is over (sent, cut off or failed): its file goes. */
  async release(file: string): Promise<void> {
    try {
      await rm(file, { force: true });
      await rm(`${file}.lock`, { force: true });
    } finally {
      this.#held.delete(file);
    }
  }

  /** Removes leftovers older than the maximum age; returns the names removed. */
  async sweep(now = Date.now()): Promise<string[]> {
    const cutoff = now - this.#maxAgeMs;
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    const swept: string[] = [];
    for (const name of entries) {
      if (!OUTGOING.test(name)) continue;
      const file = path.join(this.dir, name);
      if (this.#held.has(file.replace(/\.lock$/, ""))) continue;
      const info = await lstat(file).catch(() => null);
      if (!info || info.mtimeMs > cutoff) continue;
      await rm(file, { recursive: true, force: true });
      swept.push(name);
    }
    if (swept.length > 0)
      this.options.logger?.info({ swept: swept.length }, "deleted leftover result bundles");
    return swept;
  }
}
