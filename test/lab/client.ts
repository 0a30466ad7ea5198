import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/gateway/api-types.js';
import { expectedOutput, programSource, type ClusterSnapshot, type LoadLanguage, type LoadRequest, type ProgramSpec, type RunReport } from './load.js';

// The lab's client: one process in the lab's client namespace (started by the harness with
// `ip netns exec client`), the only thing in the lab that talks to the Gateway. It takes requests
// as JSON lines on stdin ({id, op, args}) and answers each with one JSON line on stdout
// ({id, ok, result | error}); requests run concurrently. It exits when stdin closes or its own
// deadline passes, whichever comes first, so it can never outlive the lab.

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i] as string, process.argv[i + 1] as string);
const GATEWAY = args.get('--gateway') ?? '';
const TOKEN = args.get('--token') ?? '';
const DIE_AFTER_MS = Number(args.get('--die-after-ms') ?? 600_000);
if (!/^http:\/\/198\.(18|19)\.\d+\.\d+:\d+$/.test(GATEWAY)) {
  process.stderr.write(`lab client: --gateway must be http://<address in 198.18.0.0/15>:port, got "${GATEWAY}"\n`);
  process.exit(2);
}
setTimeout(() => {
  process.stderr.write('lab client: own deadline passed; exiting\n');
  process.exit(3);
}, DIE_AFTER_MS).unref();

const headers: Record<string, string> = TOKEN ? { authorization: `Bearer ${TOKEN}` } : {};
const WS_URL = `${GATEWAY.replace('http', 'ws')}/api/v1/runs/stream`;
const POLL_MS = 100;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function cluster(timeoutMs = 1_000): Promise<ClusterSnapshot> {
  const r = await fetch(`${GATEWAY}/api/v1/cluster`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`GET /api/v1/cluster: ${r.status}`);
  const v = (await r.json()) as { nodes: Array<{ name: string; role: string; state: string }>; leader: string | null; term: number };
  return { atMs: Date.now(), nodes: v.nodes.map((n) => ({ name: n.name, role: n.role, state: n.state })), leader: v.leader, term: v.term };
}

/** Polls the Gateway's cluster view until `pred` holds; returns that snapshot. */
async function waitCluster(pred: (c: ClusterSnapshot) => boolean, timeoutMs: number, what: string): Promise<ClusterSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterSnapshot | null = null;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      last = await cluster();
      if (pred(last)) return last;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    await sleep(POLL_MS);
  }
  const seen = last ? last.nodes.map((n) => `${n.name}:${n.role}:${n.state}`).join(' ') : `no answer (${lastErr})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last view: ${seen}`);
}

/** Accepted load runs not finished yet, by id. */
const active = new Map<string, RunReport>();

/** Waits until some unfinished load run (interactive or not, as asked) is running on one of PC `host`'s Workers. */
async function waitRunningOn(host: string, interactive: boolean, timeoutMs: number): Promise<{ tag: string; worker: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const r of [...active.values()].filter((x) => x.interactive === interactive)) {
      try {
        const res = await fetch(`${GATEWAY}/api/v1/runs/${r.id}`, { headers, signal: AbortSignal.timeout(1_000) });
        const v = (await res.json()) as { status: string; worker: string | null };
        if (v.status === 'running' && v.worker?.startsWith(`${host}-w`)) return { tag: r.tag, worker: v.worker };
      } catch {
        // try the next one
      }
    }
    await sleep(POLL_MS);
  }
  throw new Error(`no ${interactive ? 'interactive' : 'batch'} run was running on ${host} within ${timeoutMs} ms`);
}

const stateOf = (c: ClusterSnapshot, node: string) => c.nodes.find((n) => n.name === node)?.state ?? 'absent';

/**
 * Runs small programs one after another (each submitted after this call began) until one finishes
 * `ok`: the moment the cluster serves new runs again.
 */
async function probe(timeoutMs: number): Promise<{ atMs: number; attempts: number; worker: string | null }> {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let last = '';
  while (Date.now() < deadline) {
    attempts++;
    const tag = `probe${attempts}`;
    try {
      const r = await fetch(`${GATEWAY}/api/v1/runs`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ language: 'python', source: `print("${tag}")\n`, wait: true }),
        signal: AbortSignal.timeout(Math.max(500, Math.min(15_000, deadline - Date.now()))),
      });
      const body = (await r.json()) as { status?: string; stdout?: string; worker?: string | null; error?: string };
      if (r.status === 200 && body.status === 'ok' && body.stdout === `${tag}\n`) return { atMs: Date.now(), attempts, worker: body.worker ?? null };
      last = `${r.status} ${body.status ?? body.error ?? ''}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`no new run finished ok within ${timeoutMs} ms (${attempts} tried; last: ${last})`);
}

/** One load run over the WebSocket (batch: interactive false), followed to its end or the deadline. */
async function loadRun(spec: ProgramSpec, interactive: boolean, deadlineMs: number): Promise<RunReport> {
  const expected = expectedOutput(spec);
  const rep: RunReport = {
    tag: spec.tag,
    language: spec.language,
    interactive,
    accepted: false,
    refusals: 0,
    id: null,
    submittedAtMs: Date.now(),
    acceptedAtMs: null,
    status: null,
    exits: 0,
    finishedAtMs: null,
    restarts: 0,
    chunksLost: 0,
    chunksDup: 0,
    streamOk: false,
    streamPrefixOk: false,
    storedOk: false,
    placements: [],
    worker: null,
    assigner: null,
    resumes: 0,
    error: null,
  };
  // The attempt being received: sequence numbers seen and the stdout bytes, in order.
  let seen = new Set<number>();
  let dup = 0;
  let parts: Buffer[] = [];
  let token = '';

  /** One WebSocket session: resolves when it closes (or the deadline passes) with why. */
  const session = (first: unknown) =>
    new Promise<'exit' | 'refused' | 'closed' | 'deadline' | 'error'>((resolve) => {
      const ws = new WebSocket(WS_URL, { headers });
      let outcome: 'exit' | 'refused' | 'closed' | 'deadline' | 'error' = 'closed';
      const timer = setTimeout(() => {
        outcome = 'deadline';
        ws.terminate();
      }, Math.max(0, deadlineMs - Date.now()));
      ws.on('open', () => ws.send(JSON.stringify(first)));
      // As `codearena run` does: a connection silent for three of the Gateway's 5 s pings is dead.
      let heardMs = Date.now();
      ws.on('ping', () => (heardMs = Date.now()));
      const watchdog = setInterval(() => {
        if (Date.now() - heardMs > 15_000) ws.terminate();
      }, 1_000);
      ws.on('close', () => clearInterval(watchdog));
      ws.on('message', (raw) => {
        heardMs = Date.now();
        const m = JSON.parse(raw.toString()) as ServerMessage;
        switch (m.type) {
          case 'accepted':
            rep.accepted = true;
            rep.acceptedAtMs = Date.now();
            rep.id = m.id;
            active.set(m.id, rep);
            token = m.resume_token;
            return;
          case 'started':
            rep.placements.push({ worker: m.worker, atMs: Date.now() });
            return;
          case 'restarted':
            rep.restarts++;
            seen = new Set();
            dup = 0;
            parts = [];
            return;
          case 'output': {
            let fresh = false;
            for (let k = m.first_seq; k <= m.seq; k++) {
              if (seen.has(k)) dup++;
              else {
                seen.add(k);
                fresh = true;
              }
            }
            if (fresh && m.stream === 'stdout') parts.push(Buffer.from(m.data, 'base64'));
            return;
          }
          case 'exit':
            rep.exits++;
            if (rep.status === null) {
              rep.status = m.result.status;
              rep.finishedAtMs = Date.now();
            }
            outcome = 'exit';
            // Keep listening a moment: a second terminal status would show here.
            setTimeout(() => ws.close(), 300);
            return;
          case 'error':
            if (!rep.accepted && (m.code === 'QUEUE_FULL' || m.code === 'NO_CAPACITY' || m.code === 'ASSIGNER_TIMEOUT')) {
              rep.refusals++;
              outcome = 'refused';
            } else {
              rep.error = `${m.code}: ${m.message}`;
              outcome = 'error';
            }
            ws.close();
            return;
          default:
            return;
        }
      });
      ws.on('error', (err) => {
        if (rep.error === null && outcome === 'closed') rep.error = err.message;
      });
      ws.on('close', () => {
        clearTimeout(timer);
        resolve(outcome);
      });
    });

  const start = { type: 'start', language: spec.language, source: programSource(spec), interactive };
  for (;;) {
    if (Date.now() >= deadlineMs) break;
    let outcome;
    if (!rep.accepted) outcome = await session(start);
    else {
      // The connection dropped mid-run: resume after the last chunk of this attempt.
      rep.resumes++;
      const lastSeq = seen.size === 0 ? -1 : Math.max(...seen);
      outcome = await session({ type: 'resume', id: rep.id, resume_token: token, last_seq: lastSeq });
    }
    if (outcome === 'exit' || outcome === 'deadline' || (outcome === 'error' && !rep.accepted)) break;
    await sleep(outcome === 'refused' ? 300 : 100);
  }

  if (rep.id) active.delete(rep.id);
  if (rep.status !== null) {
    const max = seen.size === 0 ? -1 : Math.max(...seen);
    rep.chunksLost = max + 1 - seen.size;
    rep.chunksDup = dup;
    const got = Buffer.concat(parts).toString();
    rep.streamOk = got === expected;
    rep.streamPrefixOk = expected.startsWith(got);
    // Asked again on a connection failure (the address may be moving to a new Gateway right now),
    // as any client would; a wrong answer is not asked again.
    const giveUpAt = Date.now() + 10_000;
    for (;;) {
      try {
        const r = await fetch(`${GATEWAY}/api/v1/runs/${rep.id}`, { headers, signal: AbortSignal.timeout(5_000) });
        const v = (await r.json()) as { stdout: string; worker: string | null; assigner: string | null };
        rep.storedOk = v.stdout === expected;
        rep.worker = v.worker;
        rep.assigner = v.assigner;
        break;
      } catch (err) {
        if (Date.now() < giveUpAt) {
          await sleep(200);
          continue;
        }
        rep.error = `GET after exit: ${(err as Error).message}`;
        break;
      }
    }
  }
  return rep;
}

async function load(req: LoadRequest): Promise<RunReport[]> {
  const runs: Array<Promise<RunReport>> = [];
  for (let i = 0; i < req.runs; i++) {
    if (Date.now() >= req.deadlineMs) break;
    const language: LoadLanguage = i % 2 === 0 ? 'python' : 'c';
    const interactive = (req.interactiveEvery ?? 0) > 0 && (i + 1) % (req.interactiveEvery as number) === 0;
    runs.push(loadRun({ language, tag: `${req.tag}-${i}`, lines: req.lines, periodMs: req.periodMs }, interactive, req.deadlineMs));
    await sleep(req.spacingMs);
  }
  return Promise.all(runs);
}

type Request =
  | { id: number; op: 'cluster' }
  | { id: number; op: 'wait_node'; args: { node: string; states: string[]; timeoutMs: number } }
  | { id: number; op: 'wait_ready'; args: { alive: string[]; notAlive?: string[]; workerProcesses: number; assigners: number; timeoutMs: number } }
  | { id: number; op: 'probe'; args: { timeoutMs: number } }
  | { id: number; op: 'wait_running_on'; args: { host: string; interactive: boolean; timeoutMs: number } }
  | { id: number; op: 'load'; args: LoadRequest };

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'cluster':
      return cluster(5_000);
    case 'wait_node': {
      const { node, states, timeoutMs } = req.args;
      const c = await waitCluster((v) => states.includes(stateOf(v, node)), timeoutMs, `${node} to be ${states.join('/')}`);
      return { atMs: c.atMs, state: stateOf(c, node), snapshot: c };
    }
    case 'wait_ready': {
      const { alive, notAlive = [], workerProcesses, assigners, timeoutMs } = req.args;
      const ok = (c: ClusterSnapshot) =>
        alive.every((n) => stateOf(c, n) === 'alive') &&
        notAlive.every((n) => stateOf(c, n) !== 'alive') &&
        c.nodes.filter((n) => n.role === 'worker' && n.state === 'alive' && /-w\d+$/.test(n.name)).length >= workerProcesses &&
        c.nodes.filter((n) => n.role === 'assigner' && n.state === 'alive').length >= assigners;
      return waitCluster(ok, timeoutMs, `${alive.join(', ')} alive, ${workerProcesses} Worker processes and ${assigners} Assigners`);
    }
    case 'probe':
      return probe(req.args.timeoutMs);
    case 'wait_running_on':
      return waitRunningOn(req.args.host, req.args.interactive, req.args.timeoutMs);
    case 'load':
      return load(req.args);
    default: {
      const never: never = req;
      throw new Error(`unknown op ${JSON.stringify(never)}`);
    }
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    process.stderr.write(`lab client: not JSON: ${line}\n`);
    return;
  }
  handle(req).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: err.message })}\n`),
  );
});
rl.on('close', () => process.exit(0));
