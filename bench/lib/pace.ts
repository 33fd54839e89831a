const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Open-loop load at a fixed rate across `streams`: events fall due at steady intervals and
 * go out on a ~1 ms tick (`send(stream, count)` with what fell due for that stream since the
 * last tick). Returns when everything is sent.
 */
export async function pace(options: {
  rate: number;
  seconds: number;
  streams: number;
  perStream?: number;
  send: (stream: number, count: number) => void;
}) {
  const total = Math.round(options.rate * options.seconds);
  const sentPerStream = new Array<number>(options.streams).fill(0);
  const start = performance.now();
  let sent = 0;
  let turn = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * options.rate) / 1000));
    const counts = new Array<number>(options.streams).fill(0);
    for (; sent < due; sent++) {
      let stream = turn++ % options.streams;
      // With a per-stream quota (fan-out), skip streams that have sent theirs.
      if (options.perStream !== undefined) {
        while (sentPerStream[stream] >= options.perStream) stream = turn++ % options.streams;
      }
      counts[stream]++;
      sentPerStream[stream]++;
    }
    counts.forEach((count, stream) => {
      if (count > 0) options.send(stream, count);
    });
    await sleep(1);
  }
  return { seconds: (performance.now() - start) / 1000 };
}
