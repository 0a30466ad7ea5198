import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Ports a test's cluster may use: [base, base + 200) holds the node agents (base + 0..15, or the
 * layout of `up --base-port` with its Gateways at base + 150, 151) and their Worker processes
 * (base + 100 + …: WORKER_PORT_OFFSET). A range is claimed with a lock file named after it, so
 * test files running side by side never share one; a claim whose process is gone is taken over.
 * Below 32768: the kernel hands out ephemeral ports above that.
 */
const PORT_RANGE_WIDTH = 200;
const PORT_RANGES = Math.floor((32_768 - 20_000) / PORT_RANGE_WIDTH);
export function claimPortRange(): number {
  const dir = path.join(os.tmpdir(), 'codearena-test-ports');
  mkdirSync(dir, { recursive: true });
  const start = Math.floor(Math.random() * PORT_RANGES);
  for (let i = 0; i < PORT_RANGES; i++) {
    const base = 20_000 + ((start + i) % PORT_RANGES) * PORT_RANGE_WIDTH;
    const lock = path.join(dir, String(base));
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      if (alive(Number(readFileSync(lock, 'utf8')))) continue;
      writeFileSync(lock, String(process.pid)); // its owner is gone: ours now
    }
    process.once('exit', () => rmSync(lock, { force: true }));
    return base;
  }
  throw new Error(`all ${PORT_RANGES} test port ranges are claimed (see ${dir})`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

