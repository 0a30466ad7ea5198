// The lab dashboard (/lab): every node as a tile grouped by role, the Monitor leader and term, the
// Gateway's epoch and standby, and 10 minutes of the Gateway's own metrics. Fed by server-sent
// events from /api/v1/lab/stream (a change in the cluster view reaches the page within ~200 ms);
// when the Gateway goes away the feed moves to the next Gateway of the lab.
import './lab.css';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiFailure, gatewayList, requestJson, storedToken, storeToken } from './shared/api.js';
import { byId, h } from './shared/dom.js';

type Role = 'gateway' | 'monitor' | 'assigner' | 'worker' | 'empty';
type State = 'alive' | 'suspect' | 'dead';

interface NodeView {
  name: string;
  address: string;
  role: Role;
  state: State;
  load: { psi_cpu: number; psi_memory: number; psi_io: number; slots_free: number; slots_busy: number } | null;
  runs: number;
}

interface Sample {
  t: number;
  started: number;
  queue: number;
  latency_ms: number | null;
}

interface FeedMessage {
  cluster: { nodes: NodeView[]; queue_length: number; leader: string | null; term: number };
  gateway: { epoch: number; standby: string | null } | null;
  samples: Sample[];
}

const ROLES: readonly Role[] = ['gateway', 'monitor', 'assigner', 'worker', 'empty'];
const ROLE_TITLES: Record<Role, string> = { gateway: 'Gateway', monitor: 'Monitors', assigner: 'Assigners', worker: 'Worker hosts', empty: 'Empty nodes' };
/** Samples kept for the charts: 10 minutes at one a second, as the Gateway keeps them. */
const SAMPLES_MAX = 600;
/** Pressure above this is drawn in red (the default psi.pauseAbove is of this order). */
const PRESSURE_HIGH = 0.6;
const RETRY_PAUSE_MS = 500;

const groupsEl = byId<HTMLDivElement>('groups');
const liveEl = byId<HTMLSpanElement>('live');
const messageEl = byId<HTMLDivElement>('message');
const tokenBox = byId<HTMLLabelElement>('token-box');
const tokenInput = byId<HTMLInputElement>('token');

let gateways: string[] = [location.origin];
let gatewayIndex = 0;
let source: EventSource | null = null;
let samples: Sample[] = [];
/** When the page last heard from the feed (for the tests and the live badge). */
let lastMessageAt = 0;

function showMessage(text: string | null): void {
  messageEl.hidden = text === null;
  messageEl.textContent = text ?? '';
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function meter(label: string, value: number): Node[] {
  const v = Math.max(0, Math.min(1, value));
  return [h('span', {}, label), h('span', { class: v >= PRESSURE_HIGH ? 'meter high' : 'meter' }, h('span', { style: `width:${Math.round(v * 100)}%` })), h('span', {}, pct(v))];
}

/** A Worker process (`<host>-w<i>`) is shown inside its host's tile: a tile is one lab PC. */
const WORKER_PROCESS = /^(.+)-w(\d+)$/;

function hostOf(n: NodeView, names: ReadonlySet<string>): string | null {
  const m = WORKER_PROCESS.exec(n.name);
  return m && names.has(m[1] as string) ? (m[1] as string) : null;
}

function tile(n: NodeView, procs: NodeView[]): HTMLElement {
  const slotsFree = (n.load?.slots_free ?? 0) + procs.reduce((s, p) => s + (p.load?.slots_free ?? 0), 0);
  const slotsBusy = (n.load?.slots_busy ?? 0) + procs.reduce((s, p) => s + (p.load?.slots_busy ?? 0), 0);
  const runs = n.role === 'worker' ? slotsBusy : n.runs;
  const meters = n.load ? h('div', { class: 'meters' }, ...meter('CPU', n.load.psi_cpu), ...meter('mem', n.load.psi_memory), ...meter('IO', n.load.psi_io)) : '';
  const counts = [n.role === 'worker' ? `slots ${slotsBusy}/${slotsFree + slotsBusy}` : '', `runs ${runs}`].filter(Boolean).join(' · ');
  const chips = procs.map((p) => h('span', { class: `proc ${p.state}`, 'data-node': p.name, 'data-state': p.state, 'data-role': p.role, title: p.address }, `${p.name.slice(n.name.length + 1)} ${p.state}`));
  return h(
    'div',
    { class: `tile ${n.state}`, 'data-node': n.name, 'data-state': n.state, 'data-role': n.role },
    h('div', { class: 'head' }, h('span', { class: 'name' }, n.name), h('span', { class: 'state' }, n.state.toUpperCase())),
    h('div', { class: 'addr' }, n.address || 'address unknown'),
    meters,
    h('div', { class: 'counts' }, counts),
    chips.length > 0 ? h('div', { class: 'procs' }, 'Worker processes: ', ...chips) : '',
  );
}

function render(m: FeedMessage): void {
  const c = m.cluster;
  byId('leader').textContent = c.leader ? `Monitor leader: ${c.leader} (term ${c.term})` : `Monitor leader: none (term ${c.term})`;
  byId('gateway').textContent = m.gateway ? `Gateway epoch ${m.gateway.epoch} · standby ${m.gateway.standby ?? 'none yet'}` : 'Gateway: local (no failover)';
  byId('queue').textContent = `Queue: ${c.queue_length}`;
  const names = new Set(c.nodes.map((n) => n.name));
  const procsOf = new Map<string, NodeView[]>();
  for (const n of c.nodes) {
    const host = hostOf(n, names);
    if (host) procsOf.set(host, [...(procsOf.get(host) ?? []), n].sort((a, b) => a.name.localeCompare(b.name)));
  }
  const pcs = c.nodes.filter((n) => hostOf(n, names) === null);
  const groups = ROLES.map((role) => {
    const nodes = pcs.filter((n) => n.role === role).sort((a, b) => a.name.localeCompare(b.name));
    if (nodes.length === 0) return null;
    const alive = nodes.filter((n) => n.state === 'alive').length;
    return h('section', { class: 'group', 'data-role': role }, h('h2', {}, `${ROLE_TITLES[role]} — ${alive}/${nodes.length} alive`), h('div', { class: 'tiles' }, ...nodes.map((n) => tile(n, procsOf.get(n.name) ?? []))));
  }).filter((g): g is HTMLElement => g !== null);
  groupsEl.replaceChildren(...(groups.length > 0 ? groups : [h('p', {}, 'The Gateway has no view of the cluster yet (waiting for a Monitor to answer).')]));
}

function chart(id: string, label: string, stroke: string): uPlot {
  const el = byId(id);
  const width = Math.max(300, el.clientWidth || 400);
  return new uPlot(
    {
      width,
      height: 200,
      legend: { show: false },
      // From 0, and at least 0..1: an idle lab is a flat line at the bottom, not mid-chart.
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
      series: [{}, { label, stroke, width: 2, fill: `${stroke}22`, spanGaps: false }],
      axes: [{ font: '14px system-ui, sans-serif' }, { font: '14px system-ui, sans-serif', size: 60 }],
    },
    [[], []],
    el,
  );
}

const charts = {
  started: chart('chart-started', 'runs/s', '#0b5cd5'),
  queue: chart('chart-queue', 'queued', '#a35c00'),
  latency: chart('chart-latency', 'ms', '#1b7f3b'),
};

function drawCharts(): void {
  const t = samples.map((s) => s.t);
  charts.started.setData([t, samples.map((s) => s.started)]);
  charts.queue.setData([t, samples.map((s) => s.queue)]);
  charts.latency.setData([t, samples.map((s) => s.latency_ms)]);
}

window.addEventListener('resize', () => {
  for (const [id, c] of [['chart-started', charts.started], ['chart-queue', charts.queue], ['chart-latency', charts.latency]] as const) {
    c.setSize({ width: Math.max(300, byId(id).clientWidth), height: 200 });
  }
});

function connect(): void {
  const base = gateways[gatewayIndex % gateways.length] as string;
  const u = new URL('/api/v1/lab/stream', base);
  const t = storedToken();
  if (t) u.searchParams.set('token', t);
  const es = new EventSource(u);
  source = es;
  let fresh = true;
  es.onmessage = (e) => {
    const m = JSON.parse(e.data as string) as FeedMessage;
    lastMessageAt = Date.now();
    // The first message of a feed carries the Gateway's whole ring; later ones only new samples.
    samples = (fresh ? m.samples : [...samples, ...m.samples]).slice(-SAMPLES_MAX);
    fresh = false;
    render(m);
    drawCharts();
    liveEl.textContent = `live · ${new URL(base).host}`;
    liveEl.className = 'live on';
    showMessage(null);
    tokenBox.hidden = true;
  };
  es.onerror = () => {
    if (source !== es) return;
    es.close();
    liveEl.textContent = 'reconnecting…';
    liveEl.className = 'live off';
    gatewayIndex++;
    setTimeout(connect, RETRY_PAUSE_MS);
  };
}

async function start(): Promise<void> {
  gateways = await gatewayList();
  tokenInput.value = storedToken();
  try {
    await requestJson(location.origin, '/api/v1/cluster');
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      tokenBox.hidden = false;
      showMessage(err.message);
      return;
    }
    showMessage(err instanceof ApiFailure ? err.message : String(err));
  }
  source?.close();
  connect();
}

tokenInput.addEventListener('change', () => {
  storeToken(tokenInput.value.trim());
  void start();
});

(window as unknown as { codearena: unknown }).codearena = {
  get lastMessageAt() {
    return lastMessageAt;
  },
  get samples() {
    return samples.length;
  },
};

void start();
