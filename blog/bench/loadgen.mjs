// The load generator, run as its own process (so it never shares a core's event loop with a server
// under test): autocannon over a list of paths in rotation, for a bounded time and count.
// Usage: echo '<json options>' | node bench/loadgen.mjs  ->  one JSON line of results on stdout.
// The options come on stdin, not argv: a list of 20,000 paths is over the kernel's argument limit.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const o = JSON.parse(readFileSync(0, 'utf8') || '{}');
const paths = o.paths ?? ['/'];
let i = 0;
const instance = autocannon({
  url: o.url,
  connections: o.connections ?? 10,
  pipelining: 1,
  duration: o.durationS ?? 10,
  ...(o.amount ? { amount: o.amount } : {}),
  method: o.method ?? 'GET',
  headers: o.headers ?? {},
  ...(o.body ? { body: o.body } : {}),
  requests: [
    {
      setupRequest(req) {
        req.path = paths[i++ % paths.length];
        return req;
      },
    },
  ],
});
// A hard stop even when `amount` is set: a bench never runs longer than asked.
const timer = setTimeout(() => instance.stop(), (o.durationS ?? 10) * 1000 + 1000);
instance.on('done', (r) => {
  clearTimeout(timer);
  process.stdout.write(
    `${JSON.stringify({
      requests: r.requests.total,
      rps: r.requests.total / (r.duration || 1),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      durationS: r.duration,
    })}\n`,
  );
});
