import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { judge0Strip, splitArgs } from '../../src/gateway/compat/judge0.js';
import { UpCluster } from '../helpers/up.js';
import { killWorkerUnderRun } from './helpers.js';

// Auth on: the cloud's token is Judge0's X-Auth-Token.
const cluster = new UpCluster(['--workers', '2', '--auth']);
let url = '';

before(async () => {
  await cluster.ready();
  url = cluster.url;
});
after(() => cluster.stopCleanly());

function headers(): Record<string, string> {
  return { 'content-type': 'application/json', 'X-Auth-Token': cluster.token as string };
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}${path}`, { method, headers: headers(), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text === '' ? null : JSON.parse(text) };
}

/** Polls a submission until it has left In Queue / Processing, as Judge0's clients do. */
async function poll(token: string, query: string): Promise<any> {
  for (let i = 0; i < 300; i++) {
    const r = await call('GET', `/submissions/${token}?${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = r.body.status_id ?? r.body.status?.id;
    if (id !== 1 && id !== 2) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('submission never finished');
}

const HELLO_C = '#include <stdio.h>\n\nint main(void) {\n  char name[10];\n  scanf("%s", name);\n  printf("hello, %s\\n", name);\n  return 0;\n}';

describe('Judge0 CE on a `codearena up` cluster', () => {
  test('GET /statuses and /languages', async () => {
    const st = await call('GET', '/statuses');
    assert.equal(st.body.length, 14);
    assert.deepEqual(st.body[0], { id: 1, description: 'In Queue' });
    assert.deepEqual(st.body[13], { id: 14, description: 'Exec Format Error' });
    const langs = await call('GET', '/languages');
    assert.deepEqual(langs.body.map((l: { id: number }) => l.id).sort((a: number, b: number) => a - b), [50, 54, 62, 63, 71]);
    assert.match(langs.body.find((l: { id: number }) => l.id === 71).name, /^Python \(3\.\d+\.\d+\)$/);
  });

  test('the documented example: create (wait=false), then GET with fields', async () => {
    // Judge0's docs use language_id 4 (an old C); 50 is C in Judge0 CE's current list.
    const c = await call('POST', '/submissions/?base64_encoded=false&wait=false', { source_code: HELLO_C, language_id: 50, stdin: 'world' });
    assert.equal(c.status, 201);
    assert.deepEqual(Object.keys(c.body), ['token']);
    const got = await poll(c.body.token, 'base64_encoded=false&fields=stdout,stderr,status_id,language_id');
    assert.deepEqual(got, { stdout: 'hello, world\n', stderr: null, status_id: 3, language_id: 50 });
  });

  test('the documented example with base64_encoded=true and wait=true (default fields)', async () => {
    const c = await call('POST', '/submissions/?base64_encoded=true&wait=true', {
      source_code: Buffer.from(HELLO_C).toString('base64'),
      language_id: 50,
      stdin: 'd29ybGQ=',
    });
    assert.equal(c.status, 201);
    assert.deepEqual(Object.keys(c.body).sort(), ['compile_output', 'memory', 'message', 'status', 'stderr', 'stdout', 'time', 'token']);
    assert.equal(c.body.stdout, 'aGVsbG8sIHdvcmxkCg==');
    assert.deepEqual(c.body.status, { id: 3, description: 'Accepted' });
    assert.match(c.body.time, /^\d+\.\d{3}$/);
    assert.ok(Number.isInteger(c.body.memory));
  });

  test("expected_output judged as Judge0 does: lines right-trimmed, trailing empty lines ignored", async () => {
    const src = 'print("1 2 ")\nprint("3")\nprint()\n';
    const ok = await call('POST', '/submissions?wait=true', { source_code: src, language_id: 71, expected_output: '1 2\n3' });
    assert.deepEqual(ok.body.status, { id: 3, description: 'Accepted' });
    const wa = await call('POST', '/submissions?wait=true', { source_code: src, language_id: 71, expected_output: '1  2\n3\n' });
    assert.deepEqual(wa.body.status, { id: 4, description: 'Wrong Answer' });
    assert.equal(judge0Strip('a \n\n b\t\n\n\n'), 'a\n\n b');
  });

  test('statuses: compile error, NZEC, SIGSEGV, SIGFPE, time limit', async () => {
    const ce = await call('POST', '/submissions?wait=true&fields=status,compile_output,time,memory', { source_code: 'int main() { return x; }', language_id: 50 });
    assert.equal(ce.body.status.id, 6);
    assert.match(ce.body.compile_output, /error/);
    assert.deepEqual([ce.body.time, ce.body.memory], [null, null]);
    const nzec = await call('POST', '/submissions?wait=true&fields=status,exit_code,message', { source_code: 'import sys\nsys.exit(3)', language_id: 71 });
    assert.deepEqual(nzec.body, { status: { id: 11, description: 'Runtime Error (NZEC)' }, exit_code: 3, message: 'Exited with error status 3' });
    const segv = await call('POST', '/submissions?wait=true&fields=status,exit_signal', { source_code: '#include <signal.h>\nint main(){ raise(SIGSEGV); }', language_id: 50 });
    assert.deepEqual(segv.body, { status: { id: 7, description: 'Runtime Error (SIGSEGV)' }, exit_signal: 11 });
    const fpe = await call('POST', '/submissions?wait=true&fields=status', { source_code: '#include <signal.h>\nint main(){ raise(SIGFPE); }', language_id: 50 });
    assert.equal(fpe.body.status.id, 9);
    const tle = await call('POST', '/submissions?wait=true&fields=status', { source_code: 'while True: pass', language_id: 71, cpu_time_limit: 1 });
    assert.deepEqual(tle.body.status, { id: 5, description: 'Time Limit Exceeded' });
  });

  test('batch: the documented example (bash and ruby are not run here: 422 entries in their places)', async () => {
    const b = await call('POST', '/submissions/batch?base64_encoded=false', {
      submissions: [
        { language_id: 46, source_code: 'echo hello from Bash' },
        { language_id: 71, source_code: 'print("hello from Python")' },
        { language_id: 72, source_code: 'puts("hello from Ruby")' },
        { language_id: 63, source_code: 'console.log("hello from JavaScript")' },
      ],
    });
    assert.equal(b.status, 201);
    assert.deepEqual(b.body[0], { language_id: ["language with id 46 doesn't exist"] });
    assert.deepEqual(b.body[2], { language_id: ["language with id 72 doesn't exist"] });
    const tokens = [b.body[1].token, b.body[3].token];
    for (const t of tokens) await poll(t, 'fields=status_id');
    const got = await call('GET', `/submissions/batch?tokens=${tokens.join(',')},nosuchtoken&base64_encoded=false&fields=token,stdout,status_id,language_id`);
    assert.deepEqual(got.body, {
      submissions: [
        { token: tokens[0], stdout: 'hello from Python\n', status_id: 3, language_id: 71 },
        { token: tokens[1], stdout: 'hello from JavaScript\n', status_id: 3, language_id: 63 },
        null,
      ],
    });
    assert.equal((await call('POST', '/submissions/batch', { submissions: [] })).body.error, 'there should be at least one submission in a batch');
    const many = Array.from({ length: 21 }, () => ({ language_id: 71, source_code: 'print(1)' }));
    assert.equal((await call('POST', '/submissions/batch', { submissions: many })).body.error, 'number of submissions in a batch should be less than or equal to 20');
  });

  test('base64: non-UTF-8 output needs base64_encoded=true, as on Judge0', async () => {
    const c = await call('POST', '/submissions?wait=true', { source_code: "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe')", language_id: 71 });
    assert.equal(c.status, 201);
    assert.equal(c.body.error, 'some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter');
    const b = await call('GET', `/submissions/${c.body.token}?base64_encoded=true&fields=stdout,status`);
    assert.deepEqual(b.body, { stdout: '//4=', status: { id: 3, description: 'Accepted' } });
  });

  test('command_line_arguments and redirect_stderr_to_stdout', async () => {
    const r = await call('POST', '/submissions?wait=true&fields=stdout,stderr', {
      source_code: 'import sys\nprint(sys.argv[1:])\nprint("err", file=sys.stderr)',
      language_id: 71,
      command_line_arguments: 'a "b c" d;rm',
      redirect_stderr_to_stdout: true,
    });
    assert.deepEqual(r.body, { stdout: "['a', 'b c', 'drm']\nerr\n", stderr: null });
    assert.deepEqual(splitArgs(" x 'y z' `w` "), ['x', 'y z', 'w']);
  });

  test("errors: Judge0's 422 bodies, invalid fields, unknown token, missing X-Auth-Token", async () => {
    assert.deepEqual(await call('POST', '/submissions', { source_code: 'x', language_id: 9999 }), { status: 422, body: { language_id: ["language with id 9999 doesn't exist"] } });
    assert.deepEqual(await call('POST', '/submissions', { language_id: 71 }), { status: 422, body: { source_code: ["can't be blank"] } });
    const over = await call('POST', '/submissions', { source_code: 'x', language_id: 71, cpu_time_limit: 1000, memory_limit: 100 });
    assert.equal(over.status, 422);
    assert.match(over.body.cpu_time_limit[0], /^must be less than or equal to \d+/);
    assert.deepEqual(over.body.memory_limit, ['must be greater than or equal to 2048']);
    assert.deepEqual(await call('GET', '/submissions/abc?fields=stdout,nope'), { status: 400, body: { error: 'invalid fields: [nope]' } });
    assert.equal((await call('GET', '/submissions/no-such-token')).status, 404);
    const anon = await fetch(`${url}/submissions?wait=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source_code: 'print(1)', language_id: 71 }) });
    assert.equal(anon.status, 401);
  });

  test('a Worker killed under a wait=true submission: the run starts again elsewhere, one Accepted answer', async () => {
    const pending = call('POST', '/submissions?wait=true&fields=stdout,status', {
      source_code: 'import time\nprint("start", flush=True)\ntime.sleep(2)\nprint("done")\n',
      language_id: 71,
      expected_output: 'start\ndone',
    });
    await killWorkerUnderRun(cluster);
    const r = await pending;
    assert.equal(r.status, 201);
    assert.deepEqual(r.body, { stdout: 'start\ndone\n', status: { id: 3, description: 'Accepted' } });
  });
});
