import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UpCluster } from '../helpers/up.js';
import { killWorkerUnderRun } from './helpers.js';

// One `codearena up` cluster (auth on: the token is the Jobe API key) for every case here.
const cluster = new UpCluster(['--workers', '2', '--auth']);
let base = '';
let key = '';

before(async () => {
  await cluster.ready();
  base = `${cluster.url}/jobe/index.php/restapi`;
  key = cluster.token as string;
});
after(() => cluster.stopCleanly());

/** The headers jobesandbox.php's get_jobe_connection_info() sends, in its order. */
function coderunnerHeaders(jobId: string | null, apiKey = key): Record<string, string> {
  const h: Record<string, string> = {
    'User-Agent': 'CodeRunner',
    'Content-Type': 'application/json; charset=utf-8',
    'Accept-Charset': 'utf-8',
    Accept: 'application/json',
  };
  if (apiKey) h['X-API-KEY'] = apiKey;
  if (jobId) h['X-CodeRunner-Job-Id'] = jobId;
  return h;
}

interface JobeResult {
  run_id: string | null;
  outcome: number;
  cmpinfo: string;
  stdout: string;
  stderr: string;
}

async function submit(runSpec: Record<string, unknown>, apiKey = key): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${base}/runs`, { method: 'POST', headers: coderunnerHeaders('1a2b3c4d', apiKey), body: JSON.stringify({ run_spec: runSpec }) });
  const text = await r.text();
  return { status: r.status, body: text === '' ? '' : JSON.parse(text) };
}

async function run(runSpec: Record<string, unknown>): Promise<JobeResult> {
  const r = await submit(runSpec);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as JobeResult;
}

describe('Jobe REST API (as Moodle CodeRunner calls it) on a `codearena up` cluster', () => {
  test('GET languages: [name, version] pairs of what the cluster runs', async () => {
    const r = await fetch(`${base}/languages`, { headers: coderunnerHeaders(null) });
    assert.equal(r.status, 200);
    const langs = (await r.json()) as Array<[string, string]>;
    assert.deepEqual(langs.map((l) => l[0]).sort(), ['c', 'cpp', 'java', 'nodejs', 'python3']);
    for (const [, version] of langs) assert.match(version, /^\d+(\.\d+)+/);
  });

  test("CodeRunner's run with a file_list: 404, PUT each file, resubmit (jobesandbox.php's dance)", async () => {
    const contents = 'The first file\nLine 2';
    const id = createHash('md5').update(contents).digest('hex');
    const jobId = '0badc0de';
    // Exactly CodeRunner's body: sourcefilename __tester__.<language>, input ending in a newline.
    const body = {
      run_spec: {
        language_id: 'python3',
        sourcecode: "print(open('file1').read())\nprint(input())\n",
        sourcefilename: '__tester__.python3',
        input: 'typed\n',
        file_list: [[id, 'file1']],
        parameters: { cputime: 5, memorylimit: 200 },
      },
    };
    const first = await fetch(`${base}/runs`, { method: 'POST', headers: coderunnerHeaders(jobId), body: JSON.stringify(body) });
    assert.equal(first.status, 404);
    assert.equal(await first.json(), 'One or more of the specified files is missing/unavailable');
    assert.equal((await fetch(`${base}/files/${id}`, { method: 'HEAD', headers: coderunnerHeaders(jobId) })).status, 404);
    const put = await fetch(`${base}/files/${id}`, {
      method: 'PUT',
      headers: coderunnerHeaders(jobId),
      body: JSON.stringify({ file_contents: Buffer.from(contents).toString('base64') }),
    });
    assert.equal(put.status, 204);
    assert.equal((await fetch(`${base}/files/${id}`, { method: 'HEAD', headers: coderunnerHeaders(jobId) })).status, 204);
    const again = await fetch(`${base}/runs`, { method: 'POST', headers: coderunnerHeaders(jobId), body: JSON.stringify(body) });
    assert.equal(again.status, 200);
    const res = (await again.json()) as JobeResult;
    assert.deepEqual({ outcome: res.outcome, stdout: res.stdout, stderr: res.stderr, cmpinfo: res.cmpinfo }, { outcome: 15, stdout: 'The first file\nLine 2\ntyped\n', stderr: '', cmpinfo: '' });
    assert.equal(typeof res.run_id, 'string');
  });

  test('stdin (Python3 with stdin)', async () => {
    const r = await run({ language_id: 'python3', sourcecode: 'print(input())\nprint(input())\n', input: 'Line1\nLine2\n', sourcefilename: 'test.py' });
    assert.equal(r.outcome, 15);
    assert.equal(r.stdout, 'Line1\nLine2\n');
  });

  test('syntax errors: C and Python3 are outcome 11 with the message in cmpinfo', async () => {
    const c = await run({ language_id: 'c', sourcecode: '#include <stdio.h>\nint main() {\n    printf("Hello world\\n")\n}\n', sourcefilename: 'prog.c' });
    assert.equal(c.outcome, 11);
    assert.match(c.cmpinfo, /error/);
    // Jobe compiles Python first (py_compile): 11, not a runtime error.
    const py = await run({ language_id: 'python3', sourcecode: 'print("Hello world!"\n', sourcefilename: 'test.py' });
    assert.equal(py.outcome, 11);
    assert.match(py.cmpinfo, /SyntaxError/);
    // A SyntaxError raised by running code stays a runtime error.
    const ev = await run({ language_id: 'python3', sourcecode: 'eval("1 +")\n', sourcefilename: 'test.py' });
    assert.equal(ev.outcome, 12);
  });

  test('runtime errors: Python3 IndexError and a C null dereference are outcome 12', async () => {
    const py = await run({ language_id: 'python3', sourcecode: 'data = [1, 2]\nprint(data[2])\n', sourcefilename: 'test.py' });
    assert.equal(py.outcome, 12);
    assert.match(py.stderr, /IndexError/);
    const c = await run({ language_id: 'c', sourcecode: '#include <stdio.h>\nint main() {\n    char* s = NULL;\n    printf("%c", *s);\n}\n', sourcefilename: 'prog.c' });
    assert.equal(c.outcome, 12);
  });

  test('an endless loop is outcome 13; an output flood is 13 too (as on Jobe)', async () => {
    const loop = await run({ language_id: 'c', sourcecode: '#include <stdio.h>\nint main() {\n    while(1) {};\n}\n', sourcefilename: 'prog.c', parameters: { cputime: 1 } });
    assert.equal(loop.outcome, 13);
    const flood = await run({ language_id: 'c', sourcecode: '#include <stdio.h>\nint main() {\n    while(1) { printf("Hello"); };\n}\n', sourcefilename: 'prog.c', parameters: { cputime: 2, streamsize: 0.1 } });
    assert.equal(flood.outcome, 13);
    assert.ok(flood.stdout.length <= 100_000, `the flood is cut at streamsize: ${flood.stdout.length}`);
    assert.ok(flood.stdout.startsWith('HelloHello'));
  });

  test('memory: a program over memorylimit never gets its memory', async () => {
    const src = '#include <stdio.h>\n#include <stdlib.h>\n#define CHUNKSIZE 500000000\nint main() {\n    char* p = malloc(CHUNKSIZE);\n    if (p == NULL) { printf("Memory limit worked\\n"); return 0; }\n    volatile char* q = p;\n    for (long i = 0; i < CHUNKSIZE; i += 4096) q[i] = 1;\n    printf("Oh dear, the malloc worked\\n");\n}\n';
    const r = await run({ language_id: 'c', sourcecode: src, sourcefilename: 'prog.c', parameters: { memorylimit: 64 } });
    // Which of Jobe's answers comes depends on the mechanism holding the limit: a cgroup kills
    // the program (17), an address-space rlimit makes malloc fail (15, as Jobe's own test expects).
    assert.ok(r.outcome === 17 || (r.outcome === 15 && r.stdout === 'Memory limit worked\n') || r.outcome === 12, JSON.stringify(r));
    assert.ok(!r.stdout.includes('Oh dear'));
  });

  test('a fork bomb with numprocs 1 is contained and the program still answers', async () => {
    const src = '#include <unistd.h>\n#include <stdio.h>\nint sqr(int n) {\n    if (n == 0) return 0;\n    for (int i = 0; i < 2000; i++) fork();\n    return n * n;\n}\nint main() {\n    printf("sqr(0) = %d\\n", sqr(0));\n    fflush(stdout);\n    printf("sqr(7) = %d\\n", sqr(7));\n}\n';
    const r = await run({ language_id: 'c', sourcecode: src, sourcefilename: 'test.c', parameters: { numprocs: 1 } });
    assert.equal(r.outcome, 15, JSON.stringify(r));
    // Jobe holds numprocs at 1, so no fork succeeds; a C run here has at least 4 processes (the
    // sandbox's minimum for C), so up to 3 children may print the second line as well.
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'sqr(0) = 0');
    assert.ok(lines.length >= 2 && lines.length <= 5, r.stdout);
    assert.ok(lines.slice(1).every((l) => l === 'sqr(7) = 49'), r.stdout);
  });

  test("non-UTF-8 output comes back as Jobe's clean() makes it (\\xNN)", async () => {
    const r = await run({ language_id: 'python3', sourcecode: "import sys\nsys.stdout.buffer.write(b'\\xff\\xfeab\\n')\n", sourcefilename: 'test.py' });
    assert.equal(r.outcome, 15);
    assert.equal(r.stdout, '\\xff\\xfeab\n');
    const ok = await run({ language_id: 'python3', sourcecode: "print('h\u00e9llo \u2713')\n", sourcefilename: 'test.py' });
    assert.equal(ok.stdout, 'h\u00e9llo \u2713\n', 'valid UTF-8 passes unchanged');
  });

  test('Java: the class comes from sourcefilename (and from the source without one)', async () => {
    const src = '\npublic class Test {\n    public static void main(String[] args) {\n        System.out.println("What a lot of code I need to write.");\n    }\n}\n';
    const named = await run({ language_id: 'java', sourcecode: src, sourcefilename: 'Test.java', parameters: { cputime: 10 } });
    assert.deepEqual([named.outcome, named.stdout], [15, 'What a lot of code I need to write.\n'], JSON.stringify(named));
    const unnamed = await run({ language_id: 'java', sourcecode: src, parameters: { cputime: 10 } });
    assert.deepEqual([unnamed.outcome, unnamed.stdout], [15, 'What a lot of code I need to write.\n']);
  });

  test('runargs reach the program (Python3 and C)', async () => {
    const py = await run({ language_id: 'python3', sourcecode: '\nimport sys\nfor arg in sys.argv[1:]:\n    print(arg)\n', sourcefilename: 'test.py', parameters: { runargs: ['Arg1', 'Arg2'] } });
    assert.deepEqual([py.outcome, py.stdout], [15, 'Arg1\nArg2\n']);
    const c = await run({ language_id: 'c', sourcecode: '#include <stdio.h>\nint main(int argc, char** argv) {\n    for (int i = 1; i < argc; i++) puts(argv[i]);\n}\n', parameters: { runargs: ['one two', 'three'] } });
    assert.deepEqual([c.outcome, c.stdout], [15, 'one two\nthree\n']);
  });

  test("errors as Jobe gives them: HTTP status and a JSON string", async () => {
    const lang = await submit({ language_id: 'fortran', sourcecode: 'x' });
    assert.deepEqual(lang, { status: 400, body: "Language 'fortran' is not known" });
    const missing = await fetch(`${base}/runs`, { method: 'POST', headers: coderunnerHeaders(null), body: JSON.stringify({ nope: 1 }) });
    assert.deepEqual({ status: missing.status, body: await missing.json() }, { status: 400, body: 'runs_post: missing or invalid run_spec parameter' });
    const fields = await submit({ language_id: 'c' });
    assert.deepEqual(fields, { status: 400, body: 'runs_post: invalid run specification' });
    const cpu = await submit({ language_id: 'c', sourcecode: 'int main(){}', parameters: { cputime: 1000 } });
    assert.deepEqual(cpu, { status: 400, body: 'cputime exceeds maximum allowed on this Jobe server' });
    const badFile = await submit({ language_id: 'c', sourcecode: 'int main(){}', file_list: [['short', 'x.txt']] });
    assert.equal(badFile.status, 400);
    assert.match(String(badFile.body), /^runs_post: invalid file specifier/);
    const wrongKey = await submit({ language_id: 'c', sourcecode: 'int main(){}' }, 'not-the-key');
    assert.deepEqual(wrongKey, { status: 403, body: 'Invalid API key' });
    const badB64 = await fetch(`${base}/files/abcdef0123456789`, { method: 'PUT', headers: coderunnerHeaders(null), body: JSON.stringify({ file_contents: '%%%' }) });
    assert.equal(badB64.status, 400);
  });

  test('a Worker killed under a Jobe run: the run starts again elsewhere and CodeRunner sees one clean answer', async () => {
    const pending = run({ language_id: 'python3', sourcecode: 'import time\nprint("start", flush=True)\ntime.sleep(2)\nprint("done")\n', sourcefilename: 'test.py' });
    await killWorkerUnderRun(cluster);
    const r = await pending;
    assert.deepEqual([r.outcome, r.stdout, r.stderr], [15, 'start\ndone\n', '']);
  });

  // Last: it kills this cluster's Gateway.
  test('after a Gateway failover the standby serves Jobe with the files the Gateway copied to it; a file too big to copy comes back through the 404 → PUT → resubmit dance', async () => {
    const small = 'kept before the failover\n';
    const big = 'x'.repeat(99) + '\n'; // 600 KiB: over the 512 KiB the Gateway copies to its standby
    const bigContents = big.repeat(6 * 1024);
    const smallId = createHash('md5').update(small).digest('hex');
    const bigId = createHash('md5').update(bigContents).digest('hex');
    const logs = ['mon-1.log', 'mon-2.log'].map((f) => path.join(cluster.logDir, f));
    const readLogs = () => logs.map((f) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } }).join('');
    for (let i = 0; i < 100 && !/"event":"gateway_standby","acting":true/.test(readLogs()); i++) await new Promise((r) => setTimeout(r, 100));
    const view = (await (await fetch(`${cluster.url}/api/v1/cluster`, { headers: cluster.headers() })).json()) as { nodes: Array<{ name: string; pid: number | null }> };
    const pid = view.nodes.find((n) => n.name === 'gw')?.pid;
    assert.ok(pid, 'the Gateway has a pid');
    const putTo = (b: string, id: string, contents: string) =>
      fetch(`${b}/files/${id}`, { method: 'PUT', headers: coderunnerHeaders(null), body: JSON.stringify({ file_contents: Buffer.from(contents).toString('base64') }) });
    assert.equal((await putTo(base, smallId, small)).status, 204);
    assert.equal((await putTo(base, bigId, bigContents)).status, 204);
    await new Promise((r) => setTimeout(r, 500)); // the copy travels over the cluster link
    process.kill(pid, 'SIGKILL');
    let serving = false;
    for (let i = 0; i < 200 && !serving; i++) {
      serving = await UpCluster.healthy(cluster.standbyUrl);
      if (!serving) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(serving, 'the standby serves');
    const standby = `${cluster.standbyUrl}/jobe/index.php/restapi`;
    const runWith = (id: string) =>
      fetch(`${standby}/runs`, {
        method: 'POST',
        headers: coderunnerHeaders('5eed5eed'),
        body: JSON.stringify({ run_spec: { language_id: 'python3', sourcecode: "d = open('data').read()\nprint(len(d), d[:30], end='')\n", sourcefilename: '__tester__.python3', input: '', file_list: [[id, 'data']] } }),
      });
    // The small file was copied to the standby: the run works at once.
    const first = await runWith(smallId);
    assert.equal(first.status, 200);
    assert.equal(((await first.json()) as JobeResult).stdout, `${small.length} ${small}`);
    // The big one was not: 404, and CodeRunner does what it always does — PUT it, submit again.
    assert.equal((await runWith(bigId)).status, 404);
    assert.equal((await putTo(standby, bigId, bigContents)).status, 204);
    const again = await runWith(bigId);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as JobeResult).stdout, `${bigContents.length} ${bigContents.slice(0, 30)}`);
  });
});
