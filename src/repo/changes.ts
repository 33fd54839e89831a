import type { ChangedFile, TaskChanges } from "../protocol/repo.ts";
import { git, gitText } from "./git.ts";

export type { ChangedFile, TaskChanges as Changes };

const STATUS: Record<string, ChangedFile["status"]> = {
  A: "added",
  M: "modified",
  D: "deleted",
  R: "renamed",
  C: "copied",
  T: "type_changed",
};

/** A task's changes as a pull request would show them: against the merge-base with the base. */
export async function readChanges(
  mirrorPath: string,
  base: string,
  head: string,
  options: { maxDiffBytes?: number } = {},
): Promise<TaskChanges> {
  const inMirror = { cwd: mirrorPath };
  const mergeBase = await gitText(["merge-base", base, head], inMirror);
  const range = [mergeBase, head];
  const plain = ["--no-ext-diff", "--no-textconv", "--no-color", "-M"];
  // Four reads of the same range, side by side.
  const [status, numstat, fullDiff, log] = await Promise.all([
    git(["diff", ...plain, "--name-status", "-z", ...range], inMirror),
    git(["diff", ...plain, "--numstat", "-z", ...range], inMirror),
    git(["diff", ...plain, ...range], { ...inMirror, maxOutputBytes: 256 * 1024 * 1024 }),
    gitText(
      ["log", "--no-color", "--format=%H%x1f%s%x1f%an%x1f%at", `${mergeBase}..${head}`],
      inMirror,
    ),
  ]);
  const statusOutput = status.stdout.toString("utf8").split("\0");
  const numstatOutput = numstat.stdout.toString("utf8").split("\0");

  const files: ChangedFile[] = [];
  for (let index = 0; index < statusOutput.length - 1; ) {
    const code = statusOutput[index];
    const letter = code.charAt(0);
    if (letter === "R" || letter === "C") {
      files.push({
        old_path: statusOutput[index + 1],
        path: statusOutput[index + 2],
        status: STATUS[letter],
        added: null,
        removed: null,
      });
      index += 3;
    } else {
      files.push({
        path: statusOutput[index + 1],
        status: STATUS[letter] ?? "modified",
        added: null,
        removed: null,
      });
      index += 2;
    }
  }
  // numstat -z: "added\tremoved\tpath\0" or, for renames, "added\tremoved\t\0old\0new\0".
  const counts = new Map<string, { added: number | null; removed: number | null }>();
  for (let index = 0; index < numstatOutput.length - 1; ) {
    const [added, removed, name] = numstatOutput[index].split("\t");
    const value = {
      added: added === "-" ? null : Number(added),
      removed: removed === "-" ? null : Number(removed),
    };
    if (name === "") {
      counts.set(numstatOutput[index + 2], value);
      index += 3;
    } else {
      counts.set(name, value);
      index += 1;
    }
  }
  for (const file of files) Object.assign(file, counts.get(file.path) ?? {});

  const limit = options.maxDiffBytes ?? 2 * 1024 * 1024;
  const diff = fullDiff.stdout;
  const commits = log
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [sha, subject, author, at] = line.split("\x1f");
      return { sha, subject, author, authored_at: Number(at) * 1000 };
    });
  return {
    base_sha: mergeBase,
    head_sha: head,
    files,
    added: files.reduce((sum, file) => sum + (file.added ?? 0), 0),
    removed: files.reduce((sum, file) => sum + (file.removed ?? 0), 0),
    commits,
    diff: diff.subarray(0, limit).toString("utf8"),
    diff_truncated: diff.length > limit,
  };
}
