import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './cli.js';
import { claimPortRange } from './ports.js';

class NotReadyError extends Error {}

/** A `codearena up` cluster started by a test, on ports of its own. */
export class UpCluster {
  child!: ChildProcess;
  url = '';
  /** Where the standby Monitor serves after a takeover. */
  standbyUrl = '';
  token: string | null = null;
  logDir = '';
  readonly psiDir = mkdtempSync(path.join(os.tmpdir(), 'codearena-psi-'));
  private out = '';
  private err = '';

  /** The up process's own output so far (stdout). */
  get output(): string {
    return this.out;
  }

  constructor(private readonly args: string[]) {
    this.start();
  }

  /**
   * Ports from a range of 200 this test process claims (helpers/ports.ts); should `up` still find
   * one in use (by something outside the tests), ready() tries another range.
   */
  private start(): void {
    const slot = claimPortRange();
    this.out = '';
    this.err = '';
    this.child = spawn(process.execPath, [CLI, 'up', '--port', String(slot + 150), '--base-port', String(slot), ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CODEARENA_TEST_HOOKS: '1', CODEARENA_PSI_OVERRIDE_DIR: this.psiDir },
    });
    this.child.stdout?.on('data', (d) => (this.out += d));
    this.child.stderr?.on('data', (d) => (this.err += d));
  }

  /**
   * Waits until `up` prints its Gateway's URL. A cluster that has not settled within timeoutMs is
   * stopped and started again, up to `starts` times in all, said in the test output (never
   * silently): on 2 cores shared with other work, a Gateway stalled past the standby's silence
   * bound at start-up is taken over and `up` never prints its URL.
   */
  async ready(timeoutMs = 60_000, starts = 2): Promise<void> {
    for (let start = 1; ; start++) {
      try {
        return await this.waitReady(timeoutMs);
      } catch (err) {
        if (!(err instanceof NotReadyError) || start >= starts) throw err;
        console.log(`# codearena up did not get ready within ${timeoutMs} ms (start ${start} of ${starts}; logs in ${/logs in (\S+)/.exec(this.err)?.[1] ?? '?'}): starting it again`);
        await this.stop();
        this.start();
      }
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let attempts = 1;
    while (Date.now() < deadline) {
      const m = /listening on (http:\/\/\S+)/.exec(this.out);
      if (m) {
        this.url = m[1] as string;
        this.standbyUrl = /standby gateway[^:]*: (http:\/\/\S+)/.exec(this.out)?.[1] ?? '';
        this.token = /token: (\S+)/.exec(this.out)?.[1] ?? null;
        this.logDir = /logs in (\S+)/.exec(this.err)?.[1] ?? '';
        return;
      }
      if (this.child.exitCode !== null) {
        if (/port may be in use/.test(this.err) && attempts < 3) {
          attempts++;
          this.start();
          continue;
        }
        // up gives up by itself after its own 60 s bound: as retryable as our own deadline.
        if (/did not become ready/.test(this.err)) throw new NotReadyError(`up exited: ${this.err}`);
        throw new Error(`up exited: ${this.err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new NotReadyError(`up not ready: ${this.out} ${this.err}`);
  }

  headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Stops `up` (SIGTERM) and checks it exited 0 and left no process of this cluster behind. */
  async stopCleanly(): Promise<void> {
    assert.equal(await this.stop(), 0, 'up stops cleanly');
    assert.ok(this.logDir.length > 0);
    // Every node and Worker process was started with the cluster's config path on its command line.
    let left = '';
    try {
      left = execFileSync('pgrep', ['-af', '--', this.logDir], { encoding: 'utf8' }).trim();
    } catch {
      // pgrep exits 1 when nothing matches
    }
    assert.equal(left, '', 'no process left behind');
  }

  /** Whether the Gateway at url answers /healthz (within 250 ms). */
  static async healthy(url: string): Promise<boolean> {
    try {
      return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(250) })).ok;
    } catch {
      return false;
    }
  }

  stop(): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve(this.child.exitCode);
      this.child.once('exit', (code) => resolve(code));
      this.child.kill('SIGTERM');
    });
  }
}
