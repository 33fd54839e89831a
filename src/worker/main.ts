/**
 * The worker process: `node --import tsx src/worker/main.ts`, configured by the JSON in
 * `OMOI_WORKER_CONFIG` (see worker-options.ts). Runs one agent session until the server
 * says stop (or SIGTERM/SIGINT), then exits 0, or 1 when the session failed.
 */
import { log } from "./log.ts";
import { runWorker } from "./run-worker.ts";
import { readWorkerOptions } from "./worker-options.ts";

async function main(): Promise<number> {
  let options: ReturnType<typeof readWorkerOptions>;
  try {
    options = readWorkerOptions();
  } catch (error) {
    // Without a config there is no server to tell; stderr is all there is.
    log.fatal({ err: error instanceof Error ? error.message : String(error) }, "bad worker config");
    return 2;
  }
  const worker = await runWorker(options, log);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping on signal");
      void worker.stop(`worker received ${signal}`);
    });
  }
  return worker.done;
}

process.on("uncaughtException", (error) => {
  log.fatal({ err: error.stack ?? error.message }, "uncaught exception");
  process.exit(1);
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.fatal({ err: error instanceof Error ? error.stack : String(error) }, "worker crashed");
    process.exit(1);
  },
);
