import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * What the agent may read: deny by default. The whole file system is hidden (srt turns each
 * top-level folder into an empty private tmpfs) except the system's toolchain, the agent's
 * own runtime, folders the operator adds, and — bound back by srt as write paths — the
 * workspace and the agent's own state. So another Omoi instance's data dir, other users'
 * homes, `/opt`, `/srv`, `/var` and `/tmp` are out of sight wherever they are.
 */
export interface ReadView {
  denyRead: string[];
  allowRead: string[];
}

/** The system's programs and libraries, and `/etc` (resolver, certificates, users…). */
const SYSTEM_READ = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

/** Secrets under `/etc` the agent — root in its user namespace — could otherwise read. */
const SYSTEM_SECRETS = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/ssh",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/ssl/private",
];

/** Secrets of the host user, hidden too in case an operator allows reading the home folder. */
const HOME_SECRETS = [
  ".ssh",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".gnupg",
  ".claude",
  ".claude.json",
  ".config",
  ".npm",
  ".npmrc",
  ".yarnrc",
  ".netrc",
  ".pgpass",
  ".git-credentials",
  ".bash_history",
];

/** The folder holding the agent's CLI (the SDK's native binary) and srt's helpers. */
function agentRuntimeFolder(): string {
  const sdk = fileURLToPath(import.meta.resolve("@anthropic-ai/claude-agent-sdk"));
  let folder = path.dirname(sdk);
  while (path.basename(folder) !== "@anthropic-ai" && path.dirname(folder) !== folder) {
    folder = path.dirname(folder);
  }
  return path.basename(folder) === "@anthropic-ai" ? folder : path.dirname(sdk);
}

/** Node's installation, when it is not already a system path (nvm, a tarball in /opt…). */
function nodeFolder(): string[] {
  const prefix = path.dirname(path.dirname(process.execPath));
  return SYSTEM_READ.some((entry) => prefix === entry || prefix.startsWith(`${entry}/`))
    ? []
    : [prefix];
}

export function readView(options: {
  /** Paths hidden even if an allowed folder holds them (the data dir…). */
  denyRead: string[];
  /** Folders the operator lets every agent read (another toolchain…). */
  allowRead: string[];
  /** The agent's state folder; its parent (worker.log…) stays hidden. */
  agentRoot: string;
}): ReadView {
  const home = os.homedir();
  const present = (entries: string[]) => entries.filter((entry) => existsSync(entry));
  return {
    denyRead: [
      "/",
      ...options.denyRead.map((entry) => path.resolve(entry)),
      path.dirname(options.agentRoot),
      ...present(SYSTEM_SECRETS),
      ...present(HOME_SECRETS.map((name) => path.join(home, name))),
    ],
    allowRead: [
      ...present(SYSTEM_READ),
      agentRuntimeFolder(),
      ...nodeFolder(),
      ...options.allowRead.map((entry) => path.resolve(entry)),
    ],
  };
}
