import { chmodSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";

/**
 * Makes the data dir this user's alone: created 0700, or tightened to 0700 if it exists
 * (with the folders and files directly in it: 0700 and 0600), so other local users read
 * nothing of the store, the secret or the workspaces. Run before anything writes there.
 */
export function secureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    const target = path.join(dataDir, entry.name);
    if (entry.isDirectory()) chmodSync(target, 0o700);
    else if (entry.isFile()) chmodSync(target, 0o600);
  }
}
