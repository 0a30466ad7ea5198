import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cliAsync } from '../helpers/cli.js';
import { claimPortRange } from '../helpers/ports.js';

/**
 * `codearena judge` across a Gateway failover, against two scripted Gateways on loopback (the real
 * one is failover.test.ts): given only the first, it learns the second from /api/v1/gateways;
 * when the first dies it keeps trying until the second answers (here 2 s later); and when the
 * second took over without the batch (404 NO_SUCH_BATCH: accepted just before the failure, not
 * copied yet) it sends the class again there and ends with it graded.
 */

const PROBLEM = 'abcdef0123456789abcd';

type Handler = (req: http.IncomingMessage, body: string) => { status: number; json: unknown };

function serve(port: number, handle: Handler): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { status, json } = handle(req, body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function view(id: string, state: 'running' | 'done') {
  const done = state === 'done';
  return {
    id,
    problem_id: PROBLEM,
    state,
    done: done ? 1 : 0,
    total: 1,
    tests_done: done ? 2 : 0,
    tests_total: 2,
    verdicts: done ? { accepted: 2 } : {},
    students: [{ student: 'alice', submission_id: `${id}-alice`, state: done ? 'done' : 'running', verdict: done ? 'accepted' : null, score: done ? 2 : 0, max_score: 2, tests: done ? ['AC', 'AC'] : [null, null] }],
  };
}

test('codearena judge: the next Gateway from /api/v1/gateways, retries while none answers, the class sent again to a Gateway that took over without it', async () => {
  const base = claimPortRange();
  const a = `http://127.0.0.1:${base}`;
  const b = `http://127.0.0.1:${base + 1}`;
  const gateways = { gateways: [a, b] };
  const posted: Array<{ to: string; students: string[] }> = [];
  const problemOk = (url: string) => url === `/api/v1/problems/${PROBLEM}`;

  let first: http.Server | null = null;
  let second: http.Server | null = null;
  first = await serve(base, (req, body) => {
    if (req.url === '/api/v1/gateways') return { status: 200, json: gateways };
    if (problemOk(req.url ?? '')) return { status: 200, json: { id: PROBLEM } };
    if (req.method === 'POST' && req.url === '/api/v1/batches') {
      posted.push({ to: 'a', students: (JSON.parse(body) as { submissions: Array<{ student: string }> }).submissions.map((s) => s.student) });
      return { status: 201, json: { id: 'b1', total: 1 } };
    }
    if (req.url === '/api/v1/batches/b1') {
      // The Gateway dies right after this answer; its successor serves 2 s later.
      setImmediate(() => {
        first?.close();
        first?.closeAllConnections();
        setTimeout(() => {
          void serve(base + 1, (r2, body2) => {
            if (r2.url === '/api/v1/gateways') return { status: 200, json: gateways };
            if (problemOk(r2.url ?? '')) return { status: 200, json: { id: PROBLEM } };
            if (r2.url === '/api/v1/batches/b1') return { status: 404, json: { error: 'no such batch', code: 'NO_SUCH_BATCH' } };
            if (r2.method === 'POST' && r2.url === '/api/v1/batches') {
              posted.push({ to: 'b', students: (JSON.parse(body2) as { submissions: Array<{ student: string }> }).submissions.map((s) => s.student) });
              return { status: 201, json: { id: 'b2', total: 1 } };
            }
            if (r2.url === '/api/v1/batches/b2') return { status: 200, json: view('b2', 'done') };
            return { status: 404, json: { error: `unexpected ${r2.method} ${r2.url}`, code: 'NOT_FOUND' } };
          }).then((s) => (second = s));
        }, 2_000);
      });
      return { status: 200, json: view('b1', 'running') };
    }
    return { status: 404, json: { error: `unexpected ${req.method} ${req.url}`, code: 'NOT_FOUND' } };
  });
  try {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codearena-judge-cli-'));
    const file = path.join(dir, 'alice.c');
    writeFileSync(file, 'int main(){return 0;}\n');
    const r = await cliAsync(['judge', PROBLEM, file, '--gateway', a], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, new RegExp(`${b.replace(/[.]/g, '\\.')} took over without batch b1; sending the class again`));
    assert.deepEqual(posted, [{ to: 'a', students: ['alice'] }, { to: 'b', students: ['alice'] }]);
    assert.match(r.stdout, /^alice\s+accepted\s+2\/2\s+AC AC$/m);
  } finally {
    first?.close();
    (second as http.Server | null)?.close();
  }
});
