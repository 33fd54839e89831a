import { readFileSync } from "node:fs";
import os from "node:os";

/** Cumulative CPU time of the whole machine (Linux /proc/stat, clock ticks). */
interface CpuTimes {
  busy: number;
  steal: number;
  total: number;
}

function cpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: user + nice + system + irq + softirq, steal, total };
  } catch {
    return undefined;
  }
}

/** Keeps the calibration loop's result alive, so the loop cannot be optimized away. */
let _calibrationSink = 0;

/**
 * A fixed piece of pure CPU work (integer hashing, no allocation), timed: the best of a few
 * tries, in ms. Twice the figure means this process got half the CPU it gets on a quiet
 * machine of the same kind, whatever the load average says.
 */
export function calibrate(): number {
  let best = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5; attempt++) {
    const start = performance.now();
    let hash = 2166136261;
    for (let index = 0; index < 4_000_000; index++) {
      hash = Math.imul(hash ^ index, 16777619) >>> 0;
    }
    const elapsed = performance.now() - start;
    _calibrationSink ^= hash;
    best = Math.min(best, elapsed);
  }
  return best;
}

/** What the machine was doing while one part ran. */
export interface PartContext {
  part: string;
  loadStart: number[];
  loadEnd: number[];
  /** Share of all CPUs' time spent busy (any process), and stolen by the hypervisor. */
  busy: number;
  steal: number;
  /** calibrate() at the start of the part, ms. */
  calibrationMs: number;
  seconds: number;
}

/** Starts watching the machine for one part; `end()` says what it was like. */
export function watchMachine(part: string): { end(): PartContext } {
  const loadStart = os.loadavg();
  const calibrationMs = calibrate();
  const before = cpuTimes();
  const started = performance.now();
  return {
    end() {
      const after = cpuTimes();
      const ticks = before && after ? after.total - before.total : 0;
      const share = (pick: (times: CpuTimes) => number) =>
        before && after && ticks > 0 ? (pick(after) - pick(before)) / ticks : Number.NaN;
      return {
        part,
        loadStart,
        loadEnd: os.loadavg(),
        busy: share((times) => times.busy),
        steal: share((times) => times.steal),
        calibrationMs,
        seconds: (performance.now() - started) / 1000,
      };
    },
  };
}
