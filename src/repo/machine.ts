import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";

/**
 * Names the machine (or container) a process runs on, so the CLI can tell whether a path it
 * sees is one the server sees too: the host name and the system's machine id, hashed. Two
 * processes that agree on it share a filesystem view as far as Omoi assumes; when they
 * differ, `omoi run --repo .` sends the repository as a git bundle instead of its path.
 */
export function machineIdentity(): string {
  let machineId = "";
  for (const file of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      machineId = readFileSync(file, "utf8").trim();
      break;
    } catch {
      // Not every system has one; the host name alone then decides.
    }
  }
  return createHash("sha256").update(`${os.hostname()}\n${machineId}`).digest("hex").slice(0, 32);
}
