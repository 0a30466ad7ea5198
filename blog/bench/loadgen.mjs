// The load generator, run as its own process (so it never shares a core's event loop with a server
// under test): autocannon over a list of paths in rotation, for a bounded time and count.
// Usage: node bench/loadgen.mjs '<json options>'  ->  one JSON line of results on stdout.
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2] ?? '{}');
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
