import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { isAlive } from "../../src/sandbox/process-tree.ts";
import { createResourceGroup, removeResourceGroup } from "../../src/sandbox/resource-group.ts";

/*
 * The kernel's bound on a sandbox. These tests run as root, which RLIMIT_NPROC does not
 * bind: only the cgroup's pids controller stops a fork. On a host that does not let Omoi
 * create cgroups, createResourceGroup answers null and the watchdog is the bound (its own
 * tests prove that path).
 */

function runIn(joinCommand: string, script: string) {
  const child = spawn("/bin/sh", ["-c", `${joinCommand} || exit 125; ${script}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, exited, output: () => output };
}

test("root cannot fork past a sandbox's process bound; the refusals are counted; removal kills what is left", async (t) => {
  const name = `omoi-test-${process.pid}`;
  const group = await createResourceGroup(name, { processes: 20, memoryBytes: 256 * 1024 * 1024 });
  if (!group) {
    assert.equal(process.getuid?.() === 0 && existsSync("/sys/fs/cgroup/pids"), false);
    t.diagnostic("this host does not let Omoi create cgroups; the watchdog bounds sandboxes");
    return;
  }
  try {
    assert.equal(process.getuid?.(), 0, "these tests run as root");
    const spawner = [
      "import subprocess, time",
      "started, refused = [], 0",
      "for _ in range(60):",
      "    try: started.append(subprocess.Popen(['sleep', '30']))",
      "    except OSError: refused += 1",
      "print(f'started {len(started)} refused {refused}', flush=True)",
      "time.sleep(30)",
    ].join("\n");
    const run = runIn(group.joinCommand, `exec python3 -c "${spawner}"`);
    await new Promise<void>((resolve) => {
      const check = () => (/refused \d+\n/.test(run.output()) ? resolve() : undefined);
      run.child.stdout.on("data", check);
      check();
    });
    const counts = run.output().match(/started (\d+) refused (\d+)/);
    assert.ok(counts, run.output());
    assert.ok(Number(counts[2]) > 0, "some forks were refused");
    const usage = await group.read();
    assert.ok(usage.processes <= 20, `${usage.processes} processes in a group bounded at 20`);
    assert.ok(usage.processLimitHits > 0, "the kernel refused forks past the bound");
    const pid = run.child.pid!;
    await group.remove();
    assert.equal(isAlive(pid), false, "nothing of the group outlives its removal");
    await run.exited;
  } finally {
    await removeResourceGroup(name);
  }
});

test("memory past a sandbox's bound is killed by the kernel, and the kill is counted", async (t) => {
  const name = `omoi-test-memory-${process.pid}`;
  const group = await createResourceGroup(name, { processes: 100, memoryBytes: 64 * 1024 * 1024 });
  if (!group) {
    t.diagnostic("this host does not let Omoi create cgroups; the watchdog bounds sandboxes");
    return;
  }
  try {
    const run = runIn(group.joinCommand, "python3 -c 'b = bytearray(300 * 1024 * 1024)'");
    const code = await run.exited;
    assert.notEqual(code, 0, "the allocation did not succeed");
    const usage = await group.read();
    assert.ok(usage.oomKills > 0, `an OOM kill was counted: ${JSON.stringify(usage)}`);
  } finally {
    await removeResourceGroup(name);
  }
});
