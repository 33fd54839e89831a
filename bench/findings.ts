/**
 * What the numbers mean and where the time goes. Kept beside the code that measures it;
 * the figures it leans on are in the generated tables (Details), not copied here.
 */
export const FINDINGS = `## Where the time goes

**Read the tails with the load average in mind.** This machine has 2 cores; the benchmark
client and the server each need a good part of one at 2,000 events/s. The load average at
the start of each part is recorded above, and the column "client loop delay p99" shows how
late the benchmark's own event loop ran. Figures taken while other work competed for the
CPUs measure the machine's queue as much as Omoi.

**What changed after the first (loaded) run.** Three server changes came out of it:
(1) *group commit* — event batches a worker sends while a store is in flight are stored
together in one transaction and then acknowledged one by one (\`src/server/worker-hub.ts\`),
so a slow commit costs a worker one round, not one per frame; this took Postgres + Redis at
2,000 events/s from a queue that grew without bound (p50 4.5 s) to a p50 of ~13 ms;
(2) a batch's events are published together, so a Redis bus pipelines them
(\`src/ingest/ingest.ts\`); (3) SQLite checkpoints run from a second connection in a worker
thread (\`src/store/sqlite-checkpointer.ts\`), so their fsyncs no longer stall the server's
thread. Workers also start from a compiled bundle instead of through tsx
(\`src/sandbox/worker-build.ts\`), which brought task created → \`agent.started\` under the bar.

**Embedded pipeline p99 (bar 5 ms): met, about 3–4 ms.** Earlier runs measured latency on a
server that had just absorbed the closed-loop ingest runs (hundreds of thousands of events in
seconds); the log checkpoints and the garbage they left behind put the p99 at 9–14 ms. The
latency runs now come first, on a fresh server after a warm-up, which is what a steady 2,000
events/s looks like; the ingest figures follow on the same server. Per event the server
spends about 110 µs in the SQLite transaction and 80 µs in socket writes.

**Scaled pipeline p99 (bar 15 ms): met in most runs, not all.** On a quiet machine,
repeated 10 s windows gave p99 from about 6 to 16 ms, and now and then one window caught a
stall of 100–400 ms and missed widely. Earlier it was 25–35 ms in every run (p50 12–17 ms).
What closed most of it:
(1) *one round trip per append* — \`omoi_append\` (migration 2) does the duplicate check, the
seq reservation and the insert as one statement in its own implicit transaction, instead of
BEGIN, three statements and COMMIT; (2) *group commit across callers* — appends that arrive
while two are in flight share the next transaction, whichever worker or HTTP producer they
come from (\`src/store/group-commit.ts\`); (3) *own events skip the Redis hop* — a replica
hands what it publishes to its own viewers at once and drops the echo by its origin tag, so
only other replicas' events cross Redis, and publishes of one tick leave in one write.

**What is left is the disk.** Sampling Postgres's wait events during a run, the append
backends spent most of their time in \`IO:WALSync\` (the commit's fsync), then
\`LWLock:WALWrite\` (waiting for another commit's fsync). The stalls are fsyncs that take
100+ ms on this machine's disk: every event acknowledged in that moment waits for it, since
Omoi acknowledges only what is committed. The diagnostic row with
\`synchronous_commit=off\` (an operator's opt-in through \`DATABASE_URL\`, see the README)
removes that wait: p99 about 5–12 ms and no stalls in every run tried.

Profiling the server at 2,000 events/s showed about half its CPU in socket writes (Postgres,
Redis and viewer sockets, each a syscall on loopback), so fewer, fuller writes are what
remains to gain on the CPU side.

**Seed HTTP producers** (one event per POST) used to cost a sandbox lookup and, every two
seconds, a heartbeat write from each concurrent request. Both are now kept per process
(\`src/server/seed-producers.ts\`), which took single-event POSTs on Postgres from under
1,000 to 2,400–3,400 events/s.

**Message injection** on the embedded store is a few SQLite statements and an in-process
publish. On Postgres + Redis it is one read of the sandbox and one statement that stores the
message together with its \`message.queued\` event (atomic: a crash never leaves one without
the other); the push to a worker connected to the same replica no longer waits for Redis.
With the real SDK the message is pulled as soon as it is pushed.

**Task start** is process start-up inside the sandbox; the server's share (task.created →
sandbox.starting) is a few ms. The rest is the worker starting (now from a compiled bundle),
sandbox-runtime wrapping the CLI, and the SDK starting the Claude Code CLI up to
\`system/init\`. A warm pool of started workers would remove most of it.

**Concurrency**: each running scripted sandbox costs ~300+ MiB resident (worker, Claude Code
CLI, sandbox-runtime helpers), about twice DESIGN's 150 MB estimate, and start-up is CPU
bound, so 20 at once on 2 cores start slowly but all complete. 100 at once would need
~30 GiB by that measure; this machine has 24 GiB, so it was not attempted by default
(\`--concurrency=N\` runs more).`;
