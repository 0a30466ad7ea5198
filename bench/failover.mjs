// Failover times with real processes on loopback (`codearena up`, 500 ms heartbeats, dead after 5
// missed), each trial on a fresh cluster:
//  1. Assigner takeover: an interactive run prints a numbered line every 10 ms; its Assigner is
//     SIGKILLed. Times: kill -> the Monitors declare it dead (cluster view), kill -> the first line
//     after the gap reaches the client, and that minus detection (the takeover itself). Every line
//     must arrive exactly once.
//  2. Worker death: an interactive run's Worker process is SIGKILLed; time until the client is told
//     node_lost (bound: 5 heartbeat intervals + 1 = 3 s).
//  3. Gateway takeover: the Gateway process is SIGKILLed; last reply from it -> first reply from the
//     standby (100 ms Gateway heartbeats; on loopback the standby serves on the next port).
//  4. The Hydra: a Monitor is SIGKILLed; time until two Assigners serve as Monitors (the cluster view).
import WebSocket from 'ws';
import { startUp as startCluster } from './up.mjs';

const TRIALS = Number(process.env.TRIALS ?? 5);
const PORT = 18_680;
const url = `http://127.0.0.1:${PORT}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const startUp = () => startCluster({ args: ['--workers', '2'], port: PORT, basePort: 18_620 });
const getJson = async (path) => (await fetch(`${url}${path}`)).json();

/** An interactive run printing `n i` every 10 ms for `lines` lines; records when each line arrived. */
function streamingRun(lines) {
  const source = `import time\nfor i in range(1, ${lines + 1}):\n    print(f"n {i}", flush=True)\n    time.sleep(0.01)\n`;
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/runs/stream`);
  const arrivals = [];
  let text = '';
  let id = null;
  const done = new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', language: 'python', source, interactive: true })));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'accepted') id = m.id;
      else if (m.type === 'output') {
        text += Buffer.from(m.data, 'base64').toString();
        let nl;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl).replace(/\r$/, '');
          text = text.slice(nl + 1);
          const n = /^n (\d+)$/.exec(line);
          if (n) arrivals.push({ n: Number(n[1]), at: performance.now() });
        }
      } else if (m.type === 'exit') { ws.close(); resolve(m.result); }
    });
  });
  return { arrivals, done, id: () => id };
}

async function pidOf(name) {
  const view = await getJson('/api/v1/cluster');
  return view.nodes.find((n) => n.name === name)?.pid;
}


const assigner = { detect: [], resume: [], takeover: [] };
const worker = [];
const gateway = [];
const hydraAll = [];
const hydraAfterCampaign = [];
const standbyUrl = `http://127.0.0.1:${PORT + 1}`;
async function healthy(u) {
  try { return (await fetch(`${u}/healthz`, { signal: AbortSignal.timeout(200) })).ok; } catch { return false; }
}
for (let t = 0; t < TRIALS; t++) {
  const up = await startUp();
  try {
    await sleep(1500);
    // 1. Assigner
    const run = streamingRun(600);
    while (run.arrivals.length < 50) await sleep(10);
    const rec = await getJson(`/api/v1/runs/${run.id()}`);
    const pid = await pidOf(rec.assigner);
    const before = run.arrivals.length;
    const killedAt = performance.now();
    const killedEpoch = Date.now();
    process.kill(pid, 'SIGKILL');
    const result = await run.done;
    const detect = up.firstLog((j) => j.note?.kind === 'declared' && j.note.name === rec.assigner && j.note.status === 'dead') - killedEpoch;
    const numbers = run.arrivals.map((a) => a.n);
    const exact = numbers.length === 600 && numbers.every((n, i) => n === i + 1);
    if (result.status !== 'ok' || !exact) throw new Error(`trial ${t}: status ${result.status}, ${numbers.length} lines, in order and once: ${exact}`);
    // The gap: the longest wait between two lines after the kill.
    let resumeAt = killedAt;
    let gap = 0;
    for (let i = before; i < run.arrivals.length; i++) {
      const g = run.arrivals[i].at - Math.max(killedAt, run.arrivals[i - 1].at);
      if (g > gap) { gap = g; resumeAt = run.arrivals[i].at; }
    }
    assigner.detect.push(detect);
    assigner.resume.push(resumeAt - killedAt);
    assigner.takeover.push(resumeAt - killedAt - detect);
    // 2. Worker
    const run2 = streamingRun(100_000);
    while (run2.arrivals.length < 5) await sleep(10);
    const rec2 = await getJson(`/api/v1/runs/${run2.id()}`);
    const wpid = await pidOf(rec2.worker);
    const wKilled = performance.now();
    process.kill(wpid, 'SIGKILL');
    const r2 = await run2.done;
    if (r2.status !== 'node_lost') throw new Error(`worker trial ${t}: ${r2.status}`);
    worker.push(performance.now() - wKilled);
    // 3. Gateway
    let lastOld = 0;
    for (let i = 0; i < 20; i++) { if (await healthy(url)) lastOld = performance.now(); await sleep(5); }
    const gwPid = await pidOf('gw');
    process.kill(gwPid, 'SIGKILL');
    const gwKilled = performance.now();
    let firstNew = 0;
    while (performance.now() - gwKilled < 10_000) { if (await healthy(standbyUrl)) { firstNew = performance.now(); break; } await sleep(5); }
    if (!firstNew) throw new Error(`trial ${t}: the standby never served`);
    gateway.push(firstNew - lastOld);
    // 4. Hydra: a Monitor that is not serving as Gateway
    const view = await (await fetch(`${standbyUrl}/api/v1/cluster`)).json();
    const serving = view.nodes.find((n) => n.role === 'gateway')?.name;
    const victim = view.nodes.filter((n) => n.role === 'monitor' && n.state === 'alive' && n.name !== serving && n.pid).map((n) => n.name)[0];
    const monKilledEpoch = Date.now();
    process.kill(view.nodes.find((n) => n.name === victim).pid, 'SIGKILL');
    let hydra = null;
    while (Date.now() - monKilledEpoch < 20_000) {
      const v = await (await fetch(`${standbyUrl}/api/v1/cluster`)).json();
      // The Hydra's pair: two nodes that were not configured Monitors now serve as Monitors.
      if (v.nodes.filter((n) => !/^mon-/.test(n.name) && n.role === 'monitor' && n.state === 'alive').length >= 2) { hydra = Date.now() - monKilledEpoch; break; }
      await sleep(20);
    }
    const campaign = up.firstLog((j) => /hydra_campaign/.test(j.msg ?? '')) - monKilledEpoch;
    if (hydra === null) throw new Error(`trial ${t}: no Hydra pair serving 20 s after ${victim} was killed`);
    hydraAll.push(hydra);
    hydraAfterCampaign.push(hydra - campaign);
    console.log(`trial ${t + 1}: assigner dead after ${detect.toFixed(0)} ms, lines again after ${(resumeAt - killedAt).toFixed(0)} ms; worker node_lost told after ${worker.at(-1).toFixed(0)} ms; Gateway ${gateway.at(-1).toFixed(0)} ms; Hydra pair serving ${hydra} ms after the kill (${hydraAfterCampaign.at(-1)} ms after the first campaign)`);
  } finally {
    await up.stop();
  }
}
console.log(`\nmedian of ${TRIALS} trials (ms)`);
console.log(`  Assigner SIGKILL -> declared dead by the Monitors      ${median(assigner.detect).toFixed(0)}`);
console.log(`  Assigner SIGKILL -> the run's output flows again        ${median(assigner.resume).toFixed(0)}   (every line exactly once in every trial)`);
console.log(`  takeover itself (flows again - declared dead)           ${median(assigner.takeover).toFixed(0)}`);
console.log(`  Worker SIGKILL -> client told node_lost                 ${median(worker).toFixed(0)}   (bound 5 x 500 + 500 = 3000)`);
console.log(`  Gateway: last reply from it -> first from the standby  ${median(gateway).toFixed(0)}   (100 ms Gateway heartbeats; keepalived's VRRP default: 3 x 1 s adverts + skew ≈ 3600)`);
console.log(`  Monitor SIGKILL -> two Assigners serving as Monitors    ${median(hydraAll).toFixed(0)}   (of which after the first Hydra campaign: ${median(hydraAfterCampaign).toFixed(0)}; target ≤ 3000)`);
