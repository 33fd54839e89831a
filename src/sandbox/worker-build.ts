import { randomUUID } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";
import { buildKey, bundleIsCurrent, manifestFor, writeManifest } from "./bundle-cache.ts";

/*
 * Workers start once per sandbox, so their start-up counts: loading the worker's TypeScript
 * through tsx costs about a third of a second each time. Compiling it into one ES module lets
 * each worker start on plain node. The bundle is kept between server starts and compiled
 * again only when something that goes into it changed (see bundle-cache.ts).
 *
 * Its dependencies are compiled in too: loading a few hundred small files (zod alone is
 * about a hundred) costs more than the code in them. Two stay in node_modules because they
 * find their own files next to their code: the Agent SDK (its Claude Code binary) and the
 * sandbox runtime (its seccomp helper, without which the sandbox would be weaker).
 */

const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKER_ENTRY = path.join(PROJECT_ROOT, "src/worker/main.ts");
/**
 * Inside the project, so the bundle resolves the packages left out of it from node_modules;
 * and outside the data dir, so servers with different data dirs (every test's) share it.
 */
export const WORKER_BUNDLE = path.join(PROJECT_ROOT, "dist/worker/main.mjs");
/** Loaded from node_modules at run time, not compiled into the bundle (see above). */
export const WORKER_EXTERNAL = ["@anthropic-ai/claude-agent-sdk", "@anthropic-ai/sandbox-runtime"];

export interface WorkerBuildOptions {
  /** The folder esbuild works from; the manifest names files relative to it. Default: the project. */
  root?: string;
  /** Default: src/worker/main.ts */
  entry?: string;
  /** Default: WORKER_BUNDLE */
  bundle?: string;
}

export interface BuiltWorker {
  /** The command that runs the bundle. */
  command: string[];
  /** The bundle an earlier start compiled was used: nothing that goes into it had changed. */
  reused: boolean;
}

/** Compiles the worker bundle unless the one already there is current; returns how to run it. */
export async function buildWorker(options: WorkerBuildOptions = {}): Promise<BuiltWorker> {
  const root = path.resolve(options.root ?? PROJECT_ROOT);
  const bundle = path.resolve(options.bundle ?? WORKER_BUNDLE);
  const esbuild = await import("esbuild");
  const buildOptions = {
    absWorkingDir: root,
    entryPoints: [path.resolve(options.entry ?? WORKER_ENTRY)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: WORKER_EXTERNAL,
    // CommonJS dependencies compiled into an ES module still call `require` for Node's own
    // modules (and for optional ones, inside try/catch): give them the real one.
    banner: {
      js: 'import { createRequire as __omoiCreateRequire } from "node:module"; const require = __omoiCreateRequire(import.meta.url);',
    },
    outfile: bundle,
  } satisfies BuildOptions;
  const key = buildKey(esbuild.version, buildOptions);
  const command = [process.execPath, bundle];
  if (await bundleIsCurrent(bundle, key, root)) return { command, reused: true };

  await mkdir(path.dirname(bundle), { recursive: true });
  // Written aside then renamed, so a server starting at the same moment (or one starting after
  // a crash here) never runs or trusts half a file. Created before the build: its mtime, on the
  // file system's clock, tells an input edited while esbuild was reading it.
  const temporary = `${bundle}.${randomUUID()}.tmp`;
  const temporaryManifest = `${temporary}.manifest`;
  try {
    await writeFile(temporary, "");
    const since = (await stat(temporary)).mtimeMs;
    const result = await esbuild.build({
      ...buildOptions,
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const [output] = result.outputFiles;
    await writeFile(temporary, output.contents);
    await rename(temporary, bundle);
    const manifest = await manifestFor({
      root,
      key,
      inputs: Object.keys(result.metafile.inputs),
      bundle: output.contents,
      since,
    }).catch(() => null); // an input gone since the build: nothing to vouch for it
    if (manifest) await writeManifest(bundle, manifest, temporaryManifest);
  } finally {
    await Promise.all([rm(temporary, { force: true }), rm(temporaryManifest, { force: true })]);
  }
  return { command, reused: false };
}
