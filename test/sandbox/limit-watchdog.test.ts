import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  type LimitBreach,
  type ResolvedLimits,
  startLimitWatchdog,
} from "../../src/sandbox/limit-watchdog.ts";
import { killProcessTree } from "../../src/sandbox/process-tree.ts";

/*
 * The bound where the host gives Omoi no cgroup: the watchdog counts the sandbox's process
 * trees, their resident memory and its folders, and reports the first limit passed.
 */

const LIMITS: ResolvedLimits = {
  processes: 2048,
  memory_mb: 4096,
  disk_mb: 1024,
  keep_background_processes: false,
};

function watch(limits: Partial<ResolvedLimits>, roots: number[], diskFolders: string[] = []) {
  let resolveBreach!: (breach: LimitBreach) => void;
  const breached = new Promise<LimitBreach>((resolve) => {
    resolveBreach = resolve;
  });
  const watchdog = startLimitWatchdog({
    limits: { ...LIMITS, ...limits },
    group: null,
    roots: () => roots,
    diskFolders,
    onBreach: resolveBreach,
    intervalMs: 50,
    diskIntervalMs: 50,
  });
  return { watchdog, breached };
}

test("without a cgroup, a process tree past its bound is reported as a processes breach", async () => {
  const child = spawn("/bin/sh", ["-c", "for i in $(seq 1 40); do sleep 30 & done; wait"], {
    detached: true,
    stdio: "ignore",
  });
  const { watchdog, breached } = watch({ processes: 20 }, [child.pid!]);
  try {
    const breach = await breached;
    assert.equal(breach.limit, "processes");
    assert.equal(breach.max, 20);
    assert.ok(breach.value > 20);
  } finally {
    watchdog.stop();
    await killProcessTree(child.pid!);
  }
});

test("without a cgroup, resident memory past its bound is reported as a memory breach", async () => {
  const child = spawn(
    "python3",
    [
      "-c",
      "import time; b = bytearray(200 * 1024 * 1024); print('ready', flush=True); time.sleep(30)",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const { watchdog, breached } = watch({ memory_mb: 100 }, [child.pid!]);
  try {
    const breach = await breached;
    assert.equal(breach.limit, "memory");
    assert.equal(breach.max, 100 * 1024 * 1024);
    assert.ok(breach.value > 100 * 1024 * 1024);
  } finally {
    watchdog.stop();
    await killProcessTree(child.pid!);
  }
});

test("a folder past the disk bound is reported as a disk breach; under it, check() finds nothing", async () => {
  const folder = await mkdtemp(join(tmpdir(), "omoi-watchdog-"));
  try {
    await writeFile(join(folder, "small.bin"), Buffer.alloc(64 * 1024, 1));
    const quiet = watch({ disk_mb: 1 }, [], [folder]);
    assert.equal(await quiet.watchdog.check(), null);
    quiet.watchdog.stop();

    await writeFile(join(folder, "big.bin"), Buffer.alloc(3 * 1024 * 1024, 1));
    const { watchdog, breached } = watch({ disk_mb: 1 }, [], [folder]);
    const breach = await watchdog.check();
    watchdog.stop();
    assert.deepEqual(await breached, breach, "reported once, as check() found it");
    assert.equal(breach?.limit, "disk");
    assert.equal(breach?.max, 1024 * 1024);
    assert.ok((breach?.value ?? 0) >= 3 * 1024 * 1024);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
