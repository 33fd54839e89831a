import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../test/helpers/omoi.ts";
import { onCleanup } from "./lib/cleanup.ts";

/** Another version of Omoi, checked out and built beside this one, to run in the same benchmark. */
export interface OtherCheckout {
  /** The ref as given, and the commit it named. */
  ref: string;
  commit: string;
  subject: string;
  root: string;
  remove(): Promise<void>;
}

const git = (args: string[], cwd = PROJECT_ROOT) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** Whether `paths` are the same at `commit` as in this checkout's working tree. */
function sameAsHere(commit: string, paths: string[]): boolean {
  try {
    execFileSync("git", ["diff", "--quiet", commit, "--", ...paths], { cwd: PROJECT_ROOT });
    return true;
  } catch {
    return false;
  }
}

/** Whether a checkout's node_modules holds what its package.json asks for. */
function installed(root: string): boolean {
  try {
    execFileSync("npm", ["ls", "--depth=0"], { cwd: root, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks `ref` out in a temporary git worktree and makes it runnable: dependencies are a
 * hard-linked copy of this checkout's node_modules when the lock file is the same and
 * installed here (else `npm ci`), and the web app is copied when `web/` is the same (else built). Removed at exit.
 */
export function checkOut(ref: string): OtherCheckout {
  const commit = git(["rev-parse", "--verify", `${ref}^{commit}`]);
  const subject = git(["log", "-1", "--format=%s", commit]);
  const root = mkdtempSync(path.join(os.tmpdir(), "omoi-bench-against-"));
  const remove = onCleanup(() => {
    try {
      git(["worktree", "remove", "--force", root]);
    } catch {
      rmSync(root, { recursive: true, force: true });
      git(["worktree", "prune"]);
    }
  });
  console.log(`checking out ${ref} (${commit.slice(0, 12)}) for A/B`);
  git(["worktree", "add", "--detach", root, commit]);
  if (sameAsHere(commit, ["package-lock.json"]) && installed(PROJECT_ROOT)) {
    execFileSync("cp", ["-al", path.join(PROJECT_ROOT, "node_modules"), root]);
  } else {
    console.log("  its dependencies differ from what is installed here: npm ci");
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  }
  const dist = path.join(PROJECT_ROOT, "web", "dist");
  if (existsSync(dist) && sameAsHere(commit, ["web"])) {
    cpSync(dist, path.join(root, "web", "dist"), { recursive: true });
  } else {
    console.log("  its web app differs: building it");
    execFileSync("npm", ["run", "build:web", "--silent"], { cwd: root, stdio: "inherit" });
  }
  return { ref, commit, subject, root, remove };
}
