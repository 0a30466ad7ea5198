import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
// The published npm client (piston-client 1.0.2) is the client here, pointed at the Gateway.
import piston from 'piston-client';
import { UpCluster } from '../helpers/up.js';
import { killWorkerUnderRun } from './helpers.js';

// Auth off: Piston's clients send no credentials.
const cluster = new UpCluster(['--workers', '2']);
let client: ReturnType<typeof piston>;

before(async () => {
  await cluster.ready();
  client = piston({ server: cluster.url });
});
after(() => cluster.stopCleanly());

interface Stage {
  stdout: string;
  stderr: string;
  output: string;
  code: number | null;
  signal: string | null;
  message: string | null;
  status: string | null;
  cpu_time: number | null;
  wall_time: number | null;
  memory: number | null;
}
interface Result {
  language: string;
  version: string;
  run: Stage;
  compile?: Stage;
  message?: string;
}

async function execute(body: unknown): Promise<{ status: number; body: Result }> {
  const r = await fetch(`${cluster.url}/api/v2/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Result };
}

/** A /api/v2/connect session: every message, and how it closed. */
class Session {
  readonly messages: Array<Record<string, unknown>> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
    this.closed = new Promise((resolve) => ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }
  static open(): Promise<Session> {
    const ws = new WebSocket(`${cluster.url.replace('http', 'ws')}/api/v2/connect`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Session(ws)));
      ws.once('error', reject);
    });
  }
  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }
  async waitFor(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no such message; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  stdout(): string {
    return this.messages.filter((m) => m.type === 'data' && m.stream === 'stdout').map((m) => m.data).join('');
  }
}

describe('Piston v2 on a `codearena up` cluster', () => {
  test('piston-client: runtimes, and execute (its defaults: args 1 2 3, -1 memory limits)', async () => {
    const runtimes = (await client.runtimes()) as Array<{ language: string; version: string; aliases: string[] }>;
    assert.deepEqual(runtimes.map((r) => r.language).sort(), ['c', 'c++', 'java', 'javascript', 'python']);
    assert.ok(runtimes.find((r) => r.language === 'python')?.aliases.includes('py3'));
    const r = (await client.execute('python', 'import sys\nprint("Hello", sys.argv[1:])')) as Result;
    assert.equal(r.language, 'python');
    assert.match(r.version, /^3\.\d+\.\d+$/);
    assert.equal(r.compile, undefined, 'an interpreted language has no compile stage');
    assert.deepEqual(
      { stdout: r.run.stdout, stderr: r.run.stderr, output: r.run.output, code: r.run.code, signal: r.run.signal, status: r.run.status, message: r.run.message },
      { stdout: "Hello ['1', '2', '3']\n", stderr: '', output: "Hello ['1', '2', '3']\n", code: 0, signal: null, status: null, message: null },
    );
    assert.ok(typeof r.run.cpu_time === 'number' && typeof r.run.wall_time === 'number' && typeof r.run.memory === 'number');
  });

  test("Piston's documented example (js, args 1 2 3; version \"*\" — we run another Node than 15.10.0)", async () => {
    const r = await execute({
      language: 'js',
      version: '*',
      files: [{ name: 'my_cool_code.js', content: 'console.log(process.argv)' }],
      stdin: '',
      args: ['1', '2', '3'],
      compile_timeout: 10000,
      run_timeout: 3000,
      compile_cpu_time: 10000,
      run_cpu_time: 3000,
      compile_memory_limit: -1,
      run_memory_limit: -1,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.language, 'javascript');
    // Piston prints the array over lines (its paths are long: /piston/jobs/<uuid>/my_cool_code.js);
    // ours fit one line: the program is /work/main.js (the language's own file name).
    assert.match(r.body.run.stdout, /^\[ '[^']*node', '\/work\/main\.js', '1', '2', '3' \]\n$/);
    assert.equal(r.body.run.code, 0);
  });

  test('the documented 400: an unknown runtime, and the request checks', async () => {
    assert.deepEqual(await execute({ language: 'html', version: '5.0.0', files: [{ content: 'x' }] }), { status: 400, body: { message: 'html-5.0.0 runtime is unknown' } });
    assert.deepEqual(await execute({ version: '*', files: [] }), { status: 400, body: { message: 'language is required as a string' } });
    assert.deepEqual(await execute({ language: 'python', files: [] }), { status: 400, body: { message: 'version is required as a string' } });
    assert.deepEqual(await execute({ language: 'python', version: '*' }), { status: 400, body: { message: 'files is required as an array' } });
    assert.deepEqual(await execute({ language: 'python', version: '*', files: [{ name: 'a.py' }] }), { status: 400, body: { message: 'files[0].content is required as a string' } });
    assert.deepEqual(await execute({ language: 'python', version: '2.7', files: [{ content: 'x' }] }), { status: 400, body: { message: 'python-2.7 runtime is unknown' } });
    const over = await execute({ language: 'python', version: '3', files: [{ content: 'x' }], run_timeout: 10_000_000 });
    assert.equal(over.status, 400);
    assert.match(String(over.body.message), /^run_timeout cannot exceed the configured limit of \d+$/);
  });

  test('a compiled language: compile and run stages; a compile error is reported as run too', async () => {
    const ok = await execute({ language: 'c++', version: '*', files: [{ name: 'main.cpp', content: '#include <iostream>\nint main(){std::cout<<"hi"<<std::endl;}\n' }] });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.compile?.code, 0);
    assert.equal(ok.body.run.stdout, 'hi\n');
    const bad = await execute({ language: 'c', version: '*', files: [{ content: 'int main() { return x; }\n' }] });
    assert.equal(bad.status, 200);
    assert.ok(bad.body.compile && bad.body.compile.code !== 0 && bad.body.compile.status === 'RE');
    assert.match(bad.body.compile.stderr, /error/);
    assert.deepEqual(bad.body.run, bad.body.compile);
  });

  test('stdin, base64 files, statuses RE / TO / SG', async () => {
    const io = await execute({ language: 'py', version: '3', files: [{ name: 'main.py', content: Buffer.from('print(input()[::-1])\nprint(open("data.txt").read())').toString('base64'), encoding: 'base64' }, { name: 'data.txt', content: Buffer.from('from a file').toString('hex'), encoding: 'hex' }], stdin: 'olleh\n' });
    assert.equal(io.body.run.stdout, 'hello\nfrom a file\n');
    const re = await execute({ language: 'python', version: '*', files: [{ content: 'import sys\nprint("bye", file=sys.stderr)\nsys.exit(3)' }] });
    assert.deepEqual([re.body.run.code, re.body.run.signal, re.body.run.status, re.body.run.stderr], [3, null, 'RE', 'bye\n']);
    const to = (await client.execute('python', 'while True: pass', { runTimeout: 1000 })) as Result;
    assert.deepEqual([to.run.code, to.run.signal, to.run.status], [null, 'SIGKILL', 'TO']);
    const sg = await execute({ language: 'c', version: '*', files: [{ content: '#include <signal.h>\nint main(){ raise(SIGSEGV); }\n' }] });
    assert.deepEqual([sg.body.run.code, sg.body.run.signal, sg.body.run.status], [null, 'SIGSEGV', 'SG']);
  });

  test('/api/v2/connect: the documented exchange (init, runtime, stage, stdin data, stdout data, SIGKILL, exit)', async () => {
    const s = await Session.open();
    s.send({ type: 'init', language: 'python', version: '*', files: [{ content: 'import sys\nfor line in sys.stdin:\n    print(line.strip(), flush=True)\n' }], run_timeout: 20_000 });
    assert.deepEqual(await s.waitFor((m) => m.type === 'runtime'), { type: 'runtime', language: 'python', version: (await s.waitFor((m) => m.type === 'runtime')).version });
    await s.waitFor((m) => m.type === 'stage');
    s.send({ type: 'data', stream: 'stdin', data: 'Hello World!\n' });
    await s.waitFor(() => s.stdout().includes('Hello World!\n'));
    s.send({ type: 'signal', signal: 'SIGKILL' });
    const exit = await s.waitFor((m) => m.type === 'exit');
    assert.deepEqual(exit, { type: 'exit', stage: 'run', code: null, signal: 'SIGKILL' });
    assert.deepEqual(await s.closed, { code: 4999, reason: 'Job Completed' });
    assert.deepEqual(
      s.messages.filter((m) => m.type !== 'data').map((m) => (m.type === 'stage' ? `stage:${m.stage}` : m.type)),
      ['runtime', 'stage:run', 'exit'],
    );
  });

  test('/api/v2/connect: a compiled language goes through both stages', async () => {
    const s = await Session.open();
    s.send({ type: 'init', language: 'c', version: '*', files: [{ content: '#include <stdio.h>\nint main(){puts("compiled");return 0;}\n' }] });
    const { code } = await s.closed;
    assert.equal(code, 4999);
    assert.deepEqual(
      s.messages.filter((m) => m.type !== 'data').map((m) => (m.type === 'stage' ? `stage:${m.stage}` : m.type === 'exit' ? `exit:${m.stage}:${m.code}` : m.type)),
      ['runtime', 'stage:compile', 'exit:compile:0', 'stage:run', 'exit:run:0'],
    );
    assert.equal(s.stdout(), 'compiled\n');
  });

  test('/api/v2/connect close codes: 4001, 4003, 4000, 4004, 4005, 4002', async () => {
    const idle = await Session.open();
    assert.deepEqual(await idle.closed, { code: 4001, reason: 'Initialization Timeout' });
    const early = await Session.open();
    early.send({ type: 'data', stream: 'stdin', data: 'x' });
    assert.equal((await early.closed).code, 4003);
    const init = { type: 'init', language: 'python', version: '*', files: [{ content: 'input()' }], run_timeout: 20_000 };
    const twice = await Session.open();
    twice.send(init);
    await twice.waitFor((m) => m.type === 'runtime');
    twice.send(init);
    assert.equal((await twice.closed).code, 4000);
    const stream = await Session.open();
    stream.send(init);
    await stream.waitFor((m) => m.type === 'runtime');
    stream.send({ type: 'data', stream: 'stdout', data: 'x' });
    assert.equal((await stream.closed).code, 4004);
    const sig = await Session.open();
    sig.send(init);
    await sig.waitFor((m) => m.type === 'runtime');
    sig.send({ type: 'signal', signal: 'SIGNOPE' });
    assert.equal((await sig.closed).code, 4005);
    const bad = await Session.open();
    bad.send({ type: 'init', language: 'cobol', version: '*', files: [{ content: 'x' }] });
    assert.deepEqual(await bad.closed, { code: 4002, reason: 'Notified Error' });
    assert.deepEqual(bad.messages, [{ type: 'error', message: 'cobol-* runtime is unknown' }]);
  });

  test('a Worker killed under an execute: the run starts again elsewhere, the client gets one clean answer', async () => {
    const pending = execute({ language: 'python', version: '*', files: [{ content: 'import time\nprint("start", flush=True)\ntime.sleep(2)\nprint("done")\n' }], run_timeout: 20_000 });
    await killWorkerUnderRun(cluster);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.run.stdout, r.body.run.code, r.body.run.status], ['start\ndone\n', 0, null]);
  });
});
