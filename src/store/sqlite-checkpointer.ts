import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/*
 * SQLite in WAL mode copies the log back into the database ("checkpoint") from whichever
 * commit crosses the threshold, and that copy ends in an fsync. Done on the server's thread it
 * stalls every request for that long. Here a second connection in a worker thread checkpoints
 * on a timer instead, and the server's connection never does.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const database = new Database(workerData.path);
database.pragma("busy_timeout = 5000");
const timer = setInterval(() => {
  try { database.pragma("wal_checkpoint(PASSIVE)"); } catch (error) { parentPort.postMessage(String(error)); }
}, workerData.intervalMs);
parentPort.on("message", () => { clearInterval(timer); database.close(); parentPort.close(); });
`;

export class SqliteCheckpointer {
  private worker: Worker | undefined;

  constructor(
    private readonly path: string,
    private readonly intervalMs = 200,
  ) {}

  start() {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.path, driver, intervalMs: this.intervalMs },
    });
    this.worker.unref();
    this.worker.on("message", (message) => process.emitWarning(`sqlite checkpoint: ${message}`));
  }

  async stop() {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("stop");
    await exited;
  }
}
