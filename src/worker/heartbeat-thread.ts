import { readlinkSync } from 'node:fs';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { ClusterNode } from '../cluster/node.js';
import type { ClusterMessage, Load } from '../cluster/bounds.js';
import { AddressBook } from '../agent/address-book.js';
import { ClusterDriver, nowMs, osRandom, StateFile } from '../agent/driver.js';
import { createLogger } from '../agent/log.js';
import type { LabConfig } from '../config/index.js';
import type { WireMessage } from '../agent/wire-messages.js';
import { PeerLinks } from '../agent/peers.js';
import { heartbeatThreadForm } from './heartbeat-form.js';

/**
 * A Worker's heartbeat thread: it runs the Worker's cluster membership (heartbeats to its
 * Monitor) and pings the communicator (the main thread) over a Unix domain socket. It heartbeats
 * only while the communicator answers within PONG_DEADLINE_MS: a Worker whose event loop is stalled
 * must look dead, since it cannot serve its runs.
 */
export interface HeartbeatThreadData {
  /** The config the communicator loaded: the thread does not load the config loader (and YAML) again. */
  config: LabConfig;
  name: string;
  socketPath: string;
  statePath: string;
  languages: string[];
}

const data = workerData as HeartbeatThreadData;
const config = data.config;
const log = createLogger(`${data.name}/heartbeat`);
const book = new AddressBook(config);
/**
 * One ping per heartbeat interval (it was two: each ping wakes both threads and samples PSI). The
 * communicator must have answered within two intervals: a pong is up to one interval old when the
 * next ping leaves, so a bound of one interval would flap.
 */
const pingIntervalMs = Math.max(50, config.heartbeat.intervalMs);
const PONG_DEADLINE_MS = 2 * config.heartbeat.intervalMs;

let lastPongMs = 0;
let healthy = false;

const node = new ClusterNode({
  config: {
    name: data.name,
    pid: process.pid,
    role: 'worker',
    seedMonitors: config.nodes.filter((n) => n.role === 'monitor').map((n) => n.name),
    languages: data.languages,
    timing: { heartbeatIntervalMs: config.heartbeat.intervalMs, missedLimit: config.heartbeat.missedLimit },
  },
  persisted: new StateFile(data.statePath).load(),
  rng: osRandom,
  nowMs: nowMs(),
});
// Not memberLinks (agent/links.ts): that checks every message type with zod. This thread acts on
// two types and checks those by hand (heartbeat-form.ts), so it loads no zod (~8 MB per isolate).
const peers = new PeerLinks<WireMessage>({
  name: data.name,
  secret: config.cluster.secret as string,
  schema: heartbeatThreadForm,
  logger: log,
  resolve: (p) => book.resolve(p),
  onMessage: (from, msg) => {
    if (msg.type === 'heartbeat_ack' || msg.type === 'order_role') driver.receive(from, msg);
  },
});
// Checked when each heartbeat leaves, not at the last ping: a stall is seen at the deadline itself.
const driver = new ClusterDriver(node, peers, new StateFile(data.statePath), log, (m) => m.message.type !== 'heartbeat' || (healthy && nowMs() - lastPongMs <= PONG_DEADLINE_MS));

// Cluster messages that reach the Worker's listener (in the main thread) come here.
parentPort?.on('message', (m: { from: string; msg: ClusterMessage }) => driver.receive(m.from, m.msg));

function connectPing(): void {
  const sock = net.connect(data.socketPath);
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lastPongMs = nowMs();
      try {
        driver.setLoad(JSON.parse(line) as Load);
      } catch {
        // a malformed pong is no pong
      }
    }
  });
  const timer = setInterval(() => {
    const wasHealthy = healthy;
    healthy = nowMs() - lastPongMs <= PONG_DEADLINE_MS;
    if (wasHealthy !== healthy) log.warn({ event: 'communicator', healthy }, healthy ? 'communicator answers again: heartbeating' : 'communicator stalled: heartbeats withheld');
    sock.write(`ping ${node.life}\n`);
  }, pingIntervalMs);
  sock.on('error', () => {});
  sock.on('close', () => {
    clearInterval(timer);
    healthy = false;
    setTimeout(connectPing, 200);
  });
}

connectPing();
// A Worker is never a Monitor: no table to watch, so no 100 ms timer waking this thread.
driver.start({ watchTable: false });
// The thread's own id (/proc/thread-self names it): the footprint bench reads this thread's CPU
// and wake-ups from /proc/PID/task/TID.
function ownThreadId(): number {
  try {
    return Number(/task\/(\d+)/.exec(readlinkSync('/proc/thread-self'))?.[1] ?? 0);
  } catch {
    return 0; // no /proc: the bench has nothing to read anyway
  }
}
log.info({ event: 'heartbeat_thread', tid: ownThreadId() }, 'heartbeat thread started');
