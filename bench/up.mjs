// A `codearena up` cluster for a bench script: started on the ports given, stopped (and its logs
// removed) by stop(), and killed with the script whatever happens to it.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/codearena.js', import.meta.url));

export async function startUp({ args = [], port, basePort }) {
  // Logs kept while it runs (firstLog reads them), removed by stop().
  const child = spawn(process.execPath, [CLI, 'up', '--port', String(port), '--base-port', String(basePort), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CODEARENA_KEEP_LOGS: '1' } });
  process.on('exit', () => child.kill('SIGTERM'));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', () => reject(new Error(`up exited: ${err}`)));
  });
  const logDir = /logs in (\S+)/.exec(err)?.[1];
  return {
    url: `http://127.0.0.1:${port}`,
    /** The `up` process (its node agents are its children) and where their logs are. */
    pid: child.pid,
    logDir,
    /** Epoch ms of the first log line (any node) matching pred; Infinity if none. */
    firstLog(pred) {
      let best = Infinity;
      for (const f of readdirSync(logDir).filter((x) => x.endsWith('.log'))) {
        for (const line of readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
          if (!line.startsWith('{')) continue;
          const j = JSON.parse(line);
          if (pred(j) && j.time < best) best = j.time;
        }
      }
      return best;
    },
    stop: () =>
      new Promise((resolve) => {
        const done = () => {
          if (logDir) rmSync(logDir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}
