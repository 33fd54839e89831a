import { readdirSync, readFileSync } from "node:fs";

/** What /proc/<pid>/stat says about a process that matters here. */
interface ProcessStat {
  pid: number;
  state: string;
  parentPid: number;
  groupId: number;
  sessionId: number;
  startTime: string;
}

export function readProcessStat(pid: number): ProcessStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    pid,
    state: fields[0],
    parentPid: Number(fields[1]),
    groupId: Number(fields[2]),
    sessionId: Number(fields[3]),
    startTime: fields[19],
  };
}

/** Alive means present and not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  const stat = readProcessStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}

function allProcesses(): ProcessStat[] {
  const stats: ProcessStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcessStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/**
 * The process, every descendant (by parent links, so processes that started new sessions or
 * pid namespaces — bubblewrap does both — are still found), and anything left in its
 * process group or session.
 */
export function processTree(rootPid: number): number[] {
  const processes = allProcesses();
  const children = new Map<number, number[]>();
  for (const stat of processes) {
    const siblings = children.get(stat.parentPid) ?? [];
    siblings.push(stat.pid);
    children.set(stat.parentPid, siblings);
  }
  const found = new Set<number>();
  const queue = [rootPid];
  for (const stat of processes) {
    if (stat.groupId === rootPid || stat.sessionId === rootPid) queue.push(stat.pid);
  }
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...found].filter((pid) => pid !== process.pid && readProcessStat(pid) !== null);
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ends a process tree: SIGTERM to all of it, SIGKILL to whatever is left after `graceMs`
 * (including anything spawned meanwhile). Resolves when none of it is alive, or throws.
 */
export async function killProcessTree(
  rootPid: number,
  options: { graceMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const graceMs = options.graceMs ?? 300;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const known = new Set(processTree(rootPid));
  if (known.size === 0) return;
  signal([...known], "SIGTERM");
  const started = Date.now();
  let killed = false;
  for (;;) {
    const alive = [...known].filter(isAlive);
    if (alive.length === 0) return;
    const elapsed = Date.now() - started;
    if (elapsed >= graceMs) {
      // Collect again: a dying process may have forked, or a new child may have appeared.
      for (const pid of alive) for (const descendant of processTree(pid)) known.add(descendant);
      signal([...known].filter(isAlive), "SIGKILL");
      killed = true;
    }
    if (killed && elapsed >= timeoutMs) {
      throw new Error(`processes still alive after SIGKILL: ${alive.join(", ")}`);
    }
    await sleep(10);
  }
}
