import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { zipSync } from 'fflate';
import { CodeArenaError } from '../common/errors.js';
import { CLASS_BOUNDS, classFromFiles, submissionFromFiles, type StudentSubmission } from '../judge/class-files.js';
import { PackageError, readPackage } from '../judge/package-files.js';
import { loadProblem, PROBLEM_BOUNDS } from '../judge/problem.js';
import type { BatchView } from '../judge/service.js';
import { shortOf, VERDICTS } from '../judge/verdicts.js';
import { authHeaders, gatewayList } from './client.js';

/**
 * `codearena judge PROBLEM (FILE | FOLDER_OF_STUDENTS | ZIP)`: uploads the problem (a folder or zip
 * checked here first, or the id of one the Gateway has), sends the class as one batch, shows
 * progress, then one row per student. Exit 0 only if every submission was graded (every test has a
 * verdict other than internal_error), whatever the students scored; 1 if not; 2 for bad input.
 */
export interface JudgeCliOptions {
  gateway?: string;
  token?: string;
  lang?: string;
  csv?: string;
  json?: boolean;
  /** Seconds to wait for the whole batch. */
  timeout?: string;
}

const POLL_MS = 500;
/** How long the CLI keeps trying the Gateways when none answers (a failover takes ~0.5–3 s). */
const FAILOVER_MS = 30_000;
/** A GET that has not answered in this long is taken as a dead Gateway (a PC switched off never refuses). */
const GET_TIMEOUT_MS = 10_000;
/** Uploads may be 40 MiB. */
const POST_TIMEOUT_MS = 120_000;
/** Batches sent again to a Gateway that took over without it (accepted just before the failover, not copied yet). */
const RESUBMITS_MAX = 3;

function bad(message: string, hint: string): CodeArenaError {
  return new CodeArenaError('BAD_INPUT', message, hint);
}

/** A Gateway's error answer: its status and stable code, for the caller to act on. */
class HttpError extends CodeArenaError {
  constructor(readonly status: number, readonly apiCode: string, message: string, hint: string) {
    super('BAD_INPUT', message, hint);
  }
}

/**
 * The Gateway API with failover: the Gateways from --gateway, then those the first one lists in
 * GET /api/v1/gateways (the standby's address among them), as the web pages do. A call goes to the
 * Gateway that answered last, then to the others in order, for up to FAILOVER_MS while none does.
 */
class Api {
  private current = 0;
  private listed = false;
  /** The Gateway that answered the last call (a change means a failover happened). */
  answered = '';

  constructor(private readonly gateways: string[], private readonly headers: Record<string, string>) {}

  private async learnGateways(from: string): Promise<void> {
    this.listed = true;
    try {
      const r = await fetch(new URL('/api/v1/gateways', from), { headers: this.headers, signal: AbortSignal.timeout(GET_TIMEOUT_MS) });
      if (!r.ok) return;
      const body = (await r.json()) as { gateways?: unknown };
      if (!Array.isArray(body.gateways)) return;
      for (const g of body.gateways.slice(0, 32)) {
        if (typeof g !== 'string' || !/^https?:\/\//.test(g)) continue;
        const norm = g.replace(/\/+$/, '');
        if (!this.gateways.some((x) => x.replace(/\/+$/, '') === norm)) this.gateways.push(norm);
      }
    } catch {
      // An older Gateway without the list: the --gateway list is all there is.
    }
  }

  async call(method: 'GET' | 'POST', p: string, body?: { json: unknown } | { zip: Uint8Array }): Promise<{ status: number; text: string }> {
    let last = '';
    const until = Date.now() + FAILOVER_MS;
    for (;;) {
      for (let k = 0; k < this.gateways.length; k++) {
        const i = (this.current + k) % this.gateways.length;
        const g = this.gateways[i] as string;
        try {
          const init: RequestInit = { method, headers: { ...this.headers }, signal: AbortSignal.timeout(method === 'GET' ? GET_TIMEOUT_MS : POST_TIMEOUT_MS) };
          if (body && 'json' in body) {
            init.body = JSON.stringify(body.json);
            (init.headers as Record<string, string>)['content-type'] = 'application/json';
          } else if (body) {
            init.body = Buffer.from(body.zip);
            (init.headers as Record<string, string>)['content-type'] = 'application/zip';
          }
          const r = await fetch(new URL(p, g), init);
          const text = await r.text();
          this.current = i;
          this.answered = g;
          if (!this.listed) await this.learnGateways(g);
          return { status: r.status, text };
        } catch (err) {
          last = `${g}: ${(err as Error).message}`;
        }
      }
      if (Date.now() > until) throw bad(`no gateway answered (${last})`, 'start one with `codearena up`, or pass --gateway URL (several, comma-separated)');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async json<T>(method: 'GET' | 'POST', p: string, body?: { json: unknown } | { zip: Uint8Array }): Promise<T> {
    const r = await this.call(method, p, body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.text);
    } catch {
      throw bad(`the gateway answered ${r.status} with something that is not JSON`, 'is --gateway a CodeArena gateway?');
    }
    if (r.status >= 400) {
      const e = parsed as { error?: string; code?: string };
      throw new HttpError(r.status, e.code ?? String(r.status), `${p.split('?')[0]}: ${e.error ?? r.status} (${e.code ?? r.status})`, r.status === 401 ? 'pass --token or set CODEARENA_TOKEN' : 'fix the input and try again');
    }
    return parsed as T;
  }
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PackageError) throw bad(err.message, 'run `codearena problem check` on it, or fix the folder');
    if (err instanceof CodeArenaError) throw err;
    throw err;
  }
}

/** Uploads the problem: a local folder or zip (checked here first), else an id the Gateway knows. */
async function problemId(api: Api, problem: string): Promise<string> {
  let st;
  try {
    st = statSync(problem);
  } catch {
    st = null;
  }
  if (!st) {
    if (!/^[0-9a-f]{8,64}$/.test(problem)) throw bad(`${problem} is neither a problem folder, a zip, nor a problem id`, 'give a Kattis package or NAME.in/NAME.out folder');
    await api.json('GET', `/api/v1/problems/${problem}`);
    return problem;
  }
  wrap(() => loadProblem(problem));
  const zip = st.isDirectory() ? zipSync(Object.fromEntries([...wrap(() => readPackage(problem, PROBLEM_BOUNDS))].map(([k, v]) => [k, new Uint8Array(v)]))) : readFileSync(problem);
  const name = encodeURIComponent(path.basename(problem).replace(/\.zip$/i, ''));
  const r = await api.json<{ id: string }>('POST', `/api/v1/problems?name=${name}`, { zip });
  return r.id;
}

function students(target: string, lang: string | undefined): StudentSubmission[] {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw bad(`${target} does not exist`, 'give a source file, a folder with one folder per student, or a zip of one');
  }
  if (st.isFile() && !target.toLowerCase().endsWith('.zip')) {
    if (st.size > CLASS_BOUNDS.fileBytesMax) throw bad(`${target} is over ${CLASS_BOUNDS.fileBytesMax} bytes`, 'send a smaller program');
    const name = path.basename(target);
    return [wrap(() => submissionFromFiles(path.basename(name, path.extname(name)), [{ name, content: readFileSync(target) }], lang))];
  }
  const list = wrap(() => classFromFiles(readPackage(target, CLASS_BOUNDS), lang));
  if (list.length === 0) throw bad(`no submissions found in ${target}`, 'put each student\'s files in a folder named after the student');
  return list;
}

function counts(v: BatchView): string {
  return VERDICTS.filter((k) => v.verdicts[k]).map((k) => `${shortOf(k)} ${v.verdicts[k]}`).join('  ') || '-';
}

export function renderTable(v: BatchView): string {
  const w = Math.max(7, ...v.students.map((s) => s.student.length)) + 2;
  const lines = [`${'STUDENT'.padEnd(w)}${'VERDICT'.padEnd(16)}${'SCORE'.padEnd(12)}TESTS`];
  for (const s of v.students) {
    lines.push(`${s.student.padEnd(w)}${(s.verdict ?? s.state).padEnd(16)}${`${s.score}/${s.max_score}`.padEnd(12)}${s.tests.map((t) => t ?? '..').join(' ')}`);
  }
  lines.push('', `${v.done}/${v.total} graded; tests: ${counts(v)}`);
  return `${lines.join('\n')}\n`;
}

export async function judgeCommand(problem: string, target: string, opts: JudgeCliOptions): Promise<number> {
  const api = new Api(gatewayList(opts.gateway), authHeaders(opts.token));
  const timeoutS = opts.timeout === undefined ? 3600 : Number(opts.timeout);
  if (!(timeoutS > 0)) throw bad(`--timeout ${opts.timeout} is not a number of seconds`, 'e.g. --timeout 600');
  const subs = students(target, opts.lang);
  const send = async () => {
    const id = await problemId(api, problem);
    const b = await api.json<{ id: string; total: number }>('POST', '/api/v1/batches', { json: { problem_id: id, submissions: subs } });
    return { ...b, gateway: api.answered };
  };
  let batch = await send();
  let resubmits = 0;
  const tty = process.stderr.isTTY === true && !opts.json;
  const bar = tty
    ? new cliProgress.SingleBar({ format: 'grading {bar} {value}/{total} tests | {students} students | {counts} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  let view: BatchView | null = null;
  const deadline = Date.now() + timeoutS * 1000;
  let lastLine = '';
  for (;;) {
    try {
      view = await api.json<BatchView>('GET', `/api/v1/batches/${batch.id}`);
    } catch (err) {
      // Another Gateway took over without the batch (accepted just before the failover, before its
      // standby copied it): send it again there. One that took over with it answers as before.
      if (!(err instanceof HttpError) || err.apiCode !== 'NO_SUCH_BATCH' || api.answered === batch.gateway || resubmits >= RESUBMITS_MAX) throw err;
      resubmits++;
      if (!opts.json) process.stderr.write(`codearena: ${api.answered} took over without batch ${batch.id}; sending the class again\n`);
      batch = await send();
      continue;
    }
    const payload = { students: `${view.done}/${view.total}`, counts: counts(view) };
    if (bar) {
      if (!bar.isActive) bar.start(view.tests_total, view.tests_done, payload);
      else bar.update(view.tests_done, payload);
    } else if (!opts.json) {
      const line = `${view.tests_done}/${view.tests_total} tests, ${view.done}/${view.total} students`;
      if (line !== lastLine && (view.state === 'done' || view.tests_done % 50 === 0)) process.stderr.write(`${line}\n`);
      lastLine = line;
    }
    if (view.state === 'done' || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  bar?.stop();
  if (opts.csv) {
    const r = await api.call('GET', `/api/v1/batches/${batch.id}/results.csv`);
    writeFileSync(opts.csv, r.text);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(view)}\n`);
  else process.stdout.write(renderTable(view));
  const graded = view.state === 'done' && view.students.every((s) => s.tests.every((t) => t !== null && t !== shortOf('internal_error')));
  if (!graded && !opts.json) process.stderr.write(view.state === 'done' ? 'codearena: some tests could not be graded (IE): see the Gateway log\n' : `codearena: not finished within ${timeoutS} s\n`);
  return graded ? 0 : 1;
}
