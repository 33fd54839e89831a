/**
 * What the numbers mean and where the time goes. Kept beside the code that measures it;
 * the figures it leans on are in the generated tables (Details), not copied here.
 */
export const FINDINGS = `## Where the time goes

**Read the tails with the load average in mind.** This machine has 2 cores and, during the
run, other engineers' test suites (each starting servers, sandboxes and Claude Code CLIs)
kept the load average well above 2. The benchmark client and the server each need most of a
core at 2,000 events/s; when both wait for a CPU, every event in flight waits too. The
column "client loop delay p99" shows how late the benchmark's own event loop ran; large
values there mean the figures measure the machine's queue as much as Omoi. Rerun on an
idle machine before judging a bar missed by a few milliseconds.

**Embedded pipeline (SQLite): the synchronous store stalls the event loop.** The emitted→stored
/ stored→viewer split puts the tail before the event is stored, not in fan-out. A CPU profile
of the server (\`node --cpu-prof\`) at 2,000 events/s over the worker channel, where nearly
every frame carries one event, shows where the server's time goes, per event: about 110 µs in
better-sqlite3's transaction (\`sqliteTransaction\`), about 80 µs in \`writev\` (two socket writes
per event: the ack to the worker and the frame to the viewer), and only tens of µs of
JavaScript (zod parsing of the frame and payload, JSON, viewer matching). The typical
one-event append costs ~30 µs; the mean is several times that because of rare long calls: the
"stores and bus" table shows SQLite appends with a p99 of a few ms and a max of tens of ms,
about 1% of calls over 2 ms. Those are WAL auto-checkpoints (every ~1,000 WAL pages, i.e.
every few hundred one-event transactions here), which with \`synchronous = NORMAL\` fsync the
WAL and the database on the server's only thread (\`src/store/sqlite.ts\`, \`migrate()\`:
\`journal_mode = WAL\`, \`synchronous = NORMAL\`, default \`wal_autocheckpoint\`). A 10–50 ms
stall at 2,000 events/s holds 20–100 events, so 1% of transactions stalling puts far more
than 1% of events in the tail: the p99 bar is lost there. On tmpfs (fsync free) the
stalls drop by about half; the rest is CPU contention. What would fix it, in order of effect:
(1) checkpoint off the event loop — \`wal_autocheckpoint = 0\` on the server's connection and
\`PRAGMA wal_checkpoint(PASSIVE)\` from a second connection in a worker thread, on a timer;
(2) fewer, larger transactions — coalesce the appends that arrive in one tick from all
worker sockets into one transaction (group commit), which also cuts WAL pages per event;
(3) move the store into a worker thread entirely. None of these is a one-line change, so
\`src/\` is untouched.

**Scaled pipeline (Postgres + Redis): round trips per event.** An append is one transaction of
five round trips (BEGIN, duplicate check, seq reservation, INSERT, COMMIT with an fsync —
\`synchronous_commit = on\`), and then \`Ingest.append\` awaits one Redis PUBLISH per event, one
after another (\`src/server/ingest.ts\`, \`append()\`); the worker channel handles a socket's
frames strictly in order (\`src/server/worker-hub.ts\`, the \`chain\` in \`attach()\`). So each
sandbox's events are serialized behind ~1–5 ms of database work each (see the Postgres row in
the diagnostic table); under CPU contention that queue grows faster than it drains and
latency runs away (seconds), though nothing is lost. Batching helps at once: with 50 events
a frame the same server ingests thousands of events a second. Improvements: publish a batch
with one pipelined Redis call (or \`Promise.all\`) instead of awaiting each event; fold the
duplicate check and seq reservation into the INSERT (one statement with a CTE); and let
the worker's outbox coalesce events that are ready together (it already batches; at 200
events/s per sandbox most frames carry one).

**Message injection** on the embedded store is a few SQLite statements and an in-process
publish, well under the bar. On Postgres + Redis it is ~7 Postgres round trips
(\`Orchestrator.postMessage\`: read the sandbox, insert the message, append \`message.queued\`)
plus a trip through Redis, because the push rides the bus even when the worker is connected
to the same replica (\`WorkerHub.onBusEvent\`) — fine by design for replicas, but the
database round trips are the cost. With the real SDK the message is pulled as soon as it is
pushed; the median is a few ms on a 1 ms clock.

**Task start** is process start-up inside the sandbox; the server's share (task.created →
sandbox.starting) is a few ms. The per-step table splits the rest at the worker's hello on
the channel (taken from the server's "worker connected" log line): about 1 s from
sandbox.starting to hello — sandbox-runtime wrapping, then Node starting the worker through
tsx (\`node --import tsx src/worker/main.ts\`, \`src/sandbox/local.ts\`), which compiles its
TypeScript on every start — and about 0.65 s from hello to \`agent.started\` (the SDK spawning
the Claude Code CLI and the CLI's own start-up to \`system/init\`, as DESIGN §5 measured).
To get under 1.5 s: run the worker from prebuilt JavaScript (or keep tsx's cache warm), and
start the SDK session without waiting for the channel handshake if it does so now; a warm
pool of started workers would remove the first second entirely.

**Concurrency**: each running scripted sandbox costs ~300+ MiB resident (worker, Claude Code
CLI, sandbox-runtime helpers), about twice DESIGN's 150 MB estimate, and start-up is CPU
bound, so 20 at once on 2 shared cores start slowly but all complete. 100 at once would need
~30 GiB by that measure; this machine has 24 GiB and other tenants, so it was not attempted
by default (\`--concurrency=N\` runs more).`;
