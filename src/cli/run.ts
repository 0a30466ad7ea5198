import { readFileSync, statSync } from 'node:fs';
import { CodeArenaError } from '../common/errors.js';
import type { RunView, ServerMessage } from '../gateway/api-types.js';
import { decodeOutputFrame } from '../gateway/output-frame.js';
import { findLanguage, languageForFile } from '../sandbox/languages.js';
import { SOURCE_BYTES_MAX } from '../sandbox/limits.js';
import { authHeaders, gatewayList, openStream, type StreamConnection } from './client.js';
import { exitCodeOf } from './exec.js';
import type { StreamName } from '../protocol/output.js';

export interface RunOptions {
  lang?: string;
  gateway?: string;
  token?: string;
  json?: boolean;
  stdin?: string;
}

/** How long a client keeps trying to resume a run whose connection dropped. */
const RESUME_FOR_MS = 30_000;
const STDIN_BYTES_MAX = 16 * 1024 * 1024;

function readSource(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new CodeArenaError('FILE_NOT_FOUND', `source file "${file}" not found`, 'check the path');
  }
  if (size > SOURCE_BYTES_MAX) throw new CodeArenaError('SOURCE_TOO_LARGE', `source file "${file}" is ${size} bytes, over the ${SOURCE_BYTES_MAX}-byte cap`, 'use a smaller file');
  return readFileSync(file, 'utf8');
}

async function readAllStdin(): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const d of process.stdin) {
    n += (d as Buffer).length;
    if (n > STDIN_BYTES_MAX) throw new CodeArenaError('BAD_INPUT', `stdin is over ${STDIN_BYTES_MAX} bytes`, 'send less input');
    parts.push(d as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Runs FILE on the cluster as if it ran here: live output, typed input, its exit code. */
export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  const language = opts.lang ? findLanguage(opts.lang) : languageForFile(file);
  const source = readSource(file);
  const gateways = gatewayList(opts.gateway);
  const headers = authHeaders(opts.token);
  const interactive = !opts.json && process.stdin.isTTY === true;
  const stdin = interactive ? undefined : opts.stdin !== undefined ? readFileSync(opts.stdin, 'utf8') : await readAllStdin();

  let lastSeq = -1;
  let runId = '';
  let token = '';
  let result: RunView | null = null;
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], compile: [] as Buffer[] };
  let conn: StreamConnection = await openStream(gateways, headers);
  const pendingInput: string[] = [];
  const send = (m: unknown) => conn.send(m);
  if (interactive) {
    process.stdin.on('data', (d: Buffer) => {
      const m = { type: 'stdin', data: d.toString('utf8') };
      if (runId) send(m);
      else pendingInput.push(m.data);
    });
    process.stdin.on('end', () => send({ type: 'eof' }));
  }
  process.once('SIGINT', () => send({ type: 'kill' }));

  const onOutput = (stream: StreamName, seq: number, data: Buffer): void => {
    if (seq <= lastSeq) return;
    lastSeq = seq;
    if (opts.json) out[stream].push(data);
    else (stream === 'stdout' ? process.stdout : process.stderr).write(data);
  };
  const onMessage = (msg: ServerMessage): void => {
    switch (msg.type) {
      case 'accepted':
        runId = msg.id;
        token = msg.resume_token;
        for (const d of pendingInput.splice(0)) send({ type: 'stdin', data: d });
        return;
      case 'queued':
        if (!opts.json) process.stderr.write(`codearena: queued (position ${msg.position})\n`);
        return;
      case 'started':
        return;
      case 'restarted':
        // The machine running it was lost; it runs again from the start elsewhere.
        lastSeq = -1;
        out.stdout = [];
        out.stderr = [];
        out.compile = [];
        if (!opts.json) process.stderr.write(`\ncodearena: the machine running the program was lost; running it again (attempt ${msg.attempt})\n`);
        return;
      case 'output':
        return onOutput(msg.stream, msg.seq, Buffer.from(msg.data, 'base64'));
      case 'exit':
        result = msg.result;
        return;
      case 'error':
        throw new CodeArenaError('BAD_INPUT', `gateway refused the run: ${msg.message}`, msg.code === 'UNAUTHORIZED' ? 'pass --token or set CODEARENA_TOKEN' : `(${msg.code})`);
      default: {
        const never: never = msg;
        return never;
      }
    }
  };

  const deadline = () => Date.now() + RESUME_FOR_MS;
  let resumeUntil = deadline();
  for (;;) {
    // Output comes as binary frames: no base64 to decode, however much the program prints.
    if (!runId) send({ type: 'start', language: language.id, source, interactive, binary_output: true, ...(stdin !== undefined ? { stdin } : {}) });
    else send({ type: 'resume', id: runId, resume_token: token, last_seq: lastSeq, binary_output: true });
    while (!result) {
      const raw = await conn.next();
      if (raw === null) break;
      if (typeof raw === 'string') {
        onMessage(JSON.parse(raw) as ServerMessage);
        continue;
      }
      const frame = decodeOutputFrame(raw);
      if (!frame) throw new CodeArenaError('BAD_INPUT', 'the gateway sent a malformed output frame', 'run the same CodeArena version on the gateway and here');
      onOutput(frame.stream, frame.seq, frame.data);
    }
    if (result) break;
    if (!runId || Date.now() > resumeUntil) {
      throw new CodeArenaError('BAD_INPUT', 'lost the connection to the gateway', runId ? `the run ${runId} may still finish; see GET /api/v1/runs/${runId}` : 'check the gateway');
    }
    // The Gateway went away (failover) or the network blinked: resume where we were.
    await new Promise((r) => setTimeout(r, 200));
    try {
      conn = await openStream(gateways, headers);
      resumeUntil = deadline();
    } catch {
      // keep trying until the deadline
    }
  }
  conn.close();
  process.stdin.destroy();
  const r = result as RunView;
  if (opts.json) {
    const text = (b: Buffer[]) => Buffer.concat(b).toString('utf8');
    process.stdout.write(`${JSON.stringify({ ...r, stdout: text(out.stdout), stderr: text(out.stderr), compile_output: text(out.compile) })}\n`);
    return 0;
  }
  if (r.status === 'node_lost') {
    process.stderr.write('codearena: the machine running the program was lost\n');
    return 75;
  }
  if (r.status !== 'ok' && r.status !== 'runtime_error' && r.status !== 'queued' && r.status !== 'running') {
    process.stderr.write(`codearena: ${r.status.replace(/_/g, ' ')}${r.message ? `: ${r.message}` : ''}\n`);
  }
  if (r.status === 'queued' || r.status === 'running') return 70;
  return exitCodeOf({ ...r, status: r.status, cpu_time_ms: r.cpu_time_ms ?? 0, wall_time_ms: r.wall_time_ms ?? 0, memory_kb: r.memory_kb ?? 0, version: r.version ?? '', limits_mechanism: 'rlimit' });
}
