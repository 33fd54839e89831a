import { randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/*
 * Workers start once per sandbox, so their start-up counts: loading the worker's TypeScript
 * through tsx costs about a third of a second each time. Compiling it once per server start
 * into one ES module (dependencies stay in node_modules) lets each worker start on plain
 * node.
 */

const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKER_ENTRY = path.join(PROJECT_ROOT, "src/worker/main.ts");
/** Inside the project, so the bundle resolves its dependencies from node_modules. */
export const WORKER_BUNDLE = path.join(PROJECT_ROOT, "dist/worker/main.mjs");

/** Builds the worker bundle; returns the command that runs it. */
export async function buildWorker(): Promise<string[]> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [WORKER_ENTRY],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    write: false,
    logLevel: "silent",
    outfile: WORKER_BUNDLE,
  });
  const [output] = result.outputFiles;
  await mkdir(path.dirname(WORKER_BUNDLE), { recursive: true });
  // Written aside then renamed, so a replica starting at the same moment never runs half a file.
  const temporary = `${WORKER_BUNDLE}.${randomUUID()}.tmp`;
  await writeFile(temporary, output.contents);
  await rename(temporary, WORKER_BUNDLE);
  return [process.execPath, WORKER_BUNDLE];
}
