import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

/**
 * The first executable file named `program` in a folder on PATH (what `which` prints), or
 * null. Looked up in this process: the sandbox runtime's own lookup spawns `which` once per
 * program, a process each, on every sandbox's start-up path.
 */
export function findProgram(program: string, searchPath = process.env.PATH ?? ""): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return null;
}
