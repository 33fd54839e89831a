import { randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/*
 * Workers start once per sandbox, so their start-up counts: loading the worker's TypeScript
 * through tsx costs about a third of a second each time. Compiling it once per server start
 * into one ES module lets each worker start on plain node.
 *
 * Its dependencies are compiled in too: loading a few hundred small files (zod alone is
 * about a hundred) costs more than the code in them. Two stay in node_modules because they
 * find their own files next to their code: the Agent SDK (its Claude Code binary) and the
 * sandbox runtime (its seccomp helper, without which the sandbox would be weaker).
 */

const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKER_ENTRY = path.join(PROJECT_ROOT, "src/worker/main.ts");
/** Inside the project, so the bundle resolves the packages left out of it from node_modules. */
export const WORKER_BUNDLE = path.join(PROJECT_ROOT, "dist/worker/main.mjs");
/** Loaded from node_modules at run time, not compiled into the bundle (see above). */
export const WORKER_EXTERNAL = ["@anthropic-ai/claude-agent-sdk", "@anthropic-ai/sandbox-runtime"];

/** Builds the worker bundle; returns the command that runs it. */
export async function buildWorker(): Promise<string[]> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [WORKER_ENTRY],
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
