import { spawn, type ChildProcess } from 'node:child_process';
import { before } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './cli.js';
import { claimPortRange } from './ports.js';

export interface LogLine {
  time: number;
  msg: string;
  event?: string;
  peer?: string;
  status?: string;
  [k: string]: unknown;
}

/** A node agent process whose JSON log lines are collected as they come. */
export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly child: ChildProcess;
  private waiters: Array<() => void> = [];

  constructor(readonly name: string, configFile: string, stateDir: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, 'node', '--config', configFile, '--name', name, '--state-dir', stateDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let buf = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ time: Date.now(), msg: line });
        }
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out; last lines: ${this.lines.slice(-5).map((l) => l.msg).join(' | ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** The latest status this Monitor logged for a node. */
  statusOf(peer: string): string | undefined {
    return [...this.lines].reverse().find((l) => l.event === 'table' && l.peer === peer)?.status;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** A loopback lab config (the local cluster layout) on ports nobody else in this run uses. */
export function writeLocalConfig(opts: { workers?: number; secret?: string; gateway?: Record<string, unknown>; empties?: number } = {}): { file: string; dir: string; basePort: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-lab-'));
  const basePort = claimPortRange();
  const secret = opts.secret ?? 'test-secret-0123456789abcdefghijklmnop';
  const names = ['gw', 'mon-1', 'mon-2', 'asg-1', 'asg-2', 'wrk-1', 'empty-1'];
  const roles = ['gateway', 'monitor', 'monitor', 'assigner', 'assigner', 'worker', 'empty'];
  // More Empty nodes take the ports after the Gateway's and the standby's (basePort + 7, + 8).
  for (let i = 2; i <= (opts.empties ?? 1); i++) {
    names.push(`empty-${i}`);
    roles.push('empty');
  }
  const config = {
    cluster: { name: 'test', secret },
    gateway: { host: 'gw', port: basePort + 7, standbyPort: basePort + 8, ...opts.gateway },
    nodes: names.map((name, i) => ({ name, address: '127.0.0.1', port: basePort + (i < 7 ? i : i + 2), role: roles[i] })),
    workers: { perHostMax: opts.workers ?? 2 },
    auth: { enabled: false },
  };
  const file = path.join(dir, 'lab.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { file, dir, basePort };
}

/**
 * The agents of one test suite, started in the suite's `before` hook (empty until then): a file's
 * suites run one after another, so their agents should not all start at once when the file loads —
 * twenty Node processes starting together on two cores take their first log line past a test's bounds.
 */
export function agentsForSuite(names: readonly string[], lab: { file: string; dir: string }): Map<string, AgentProcess> {
  const agents = new Map<string, AgentProcess>();
  before(() => {
    for (const n of names) agents.set(n, new AgentProcess(n, lab.file, path.join(lab.dir, 'state')));
  });
  return agents;
}
