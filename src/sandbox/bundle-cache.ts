import { createHash } from "node:crypto";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { parseWith } from "../protocol/json.ts";

/*
 * A compiled bundle is kept from one start to the next beside a manifest of what went into it:
 * every file esbuild read (its metafile's inputs) with the hash of its content, the files that
 * steer how esbuild resolves and compiles them (package.json, tsconfig.json, jsconfig.json in
 * each folder on the way up to the root, or that they were absent), a key for the esbuild
 * version and the build options, and the hash of the bundle itself. A start reuses the bundle
 * only when all of these still match; anything else (no manifest, a malformed one, a changed
 * or missing input, a bundle cut short) means a build. Contents are compared, not mtimes.
 */

const MANIFEST_FORMAT = 1;
/** Files that change how esbuild resolves or compiles the files in their folder and below. */
const RESOLUTION_FILES = ["package.json", "tsconfig.json", "jsconfig.json"];

const Manifest = z.object({
  format: z.literal(MANIFEST_FORMAT),
  key: z.string(),
  bundle: z.string(),
  /** Path relative to the root → sha256 of its content, or null: the file must stay absent. */
  files: z.record(z.string(), z.string().nullable()),
});
type Manifest = z.infer<typeof Manifest>;

export function manifestPath(bundle: string): string {
  return `${bundle}.manifest.json`;
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A key for what, besides the input files, decides the output. */
export function buildKey(esbuildVersion: string, options: object): string {
  return sha256(JSON.stringify({ format: MANIFEST_FORMAT, esbuild: esbuildVersion, options }));
}

/** The hash of a file's content; null if there is no such file. */
async function hashFile(file: string): Promise<string | null> {
  try {
    return sha256(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  }
}

/** Whether the bundle at `bundle` was built from exactly what is on disk now, with `key`. */
export async function bundleIsCurrent(bundle: string, key: string, root: string): Promise<boolean> {
  try {
    const parsed = parseWith(Manifest, await readFile(manifestPath(bundle), "utf8"));
    if (!parsed.ok || parsed.value.key !== key) return false;
    const manifest = parsed.value;
    const entries = Object.entries(manifest.files);
    const hashes = await Promise.all(entries.map(([file]) => hashFile(path.resolve(root, file))));
    if (entries.some(([, expected], index) => hashes[index] !== expected)) return false;
    return sha256(await readFile(bundle)) === manifest.bundle;
  } catch {
    // Unreadable: build again rather than fail the start.
    return false;
  }
}

/**
 * The manifest of a bundle built from `inputs` (relative to `root`), or null when one of them
 * was modified after `since` (an edit while esbuild was reading: what it compiled is unknown).
 */
export async function manifestFor(options: {
  root: string;
  key: string;
  inputs: string[];
  bundle: Uint8Array;
  since: number;
}): Promise<Manifest | null> {
  const { root } = options;
  const files: Manifest["files"] = {};
  const folders = new Set<string>();
  for (const input of options.inputs) {
    const file = path.resolve(root, input);
    const [hash, stats] = await Promise.all([hashFile(file), stat(file)]);
    if (hash === null || stats.mtimeMs > options.since) return null;
    files[path.relative(root, file)] = hash;
    for (let folder = path.dirname(file); !folders.has(folder); folder = path.dirname(folder)) {
      folders.add(folder);
      if (folder === root || path.dirname(folder) === folder) break;
    }
  }
  for (const folder of folders) {
    for (const name of RESOLUTION_FILES) {
      const file = path.join(folder, name);
      files[path.relative(root, file)] = await hashFile(file);
    }
  }
  return { format: MANIFEST_FORMAT, key: options.key, bundle: sha256(options.bundle), files };
}

/** Writes the manifest beside the bundle: aside first, then renamed, so no reader sees half. */
export async function writeManifest(
  bundle: string,
  manifest: Manifest,
  temporary: string,
): Promise<void> {
  await writeFile(temporary, JSON.stringify(manifest));
  await rename(temporary, manifestPath(bundle));
}
