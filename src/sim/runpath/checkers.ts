import type { SandboxChunk } from '../../worker/ports.js';
import type { SimClient, ViewChunk } from './client.js';
import type { ProgramRecord, SimWorker } from './nodes.js';

/**
 * DESIGN.md §7 contracts 1 and 2, checked on what the clients read against what the programs
 * printed (the twin records every chunk): every accepted run has exactly one terminal status the
 * client can read, again on a fresh re-read; a run that ended by itself (ok, runtime_error) shows
 * exactly one attempt's output, in order, nothing lost or repeated; a run cut short (killed,
 * node_lost) shows a prefix of one attempt's output. Duplicates, gaps and second exits are caught
 * as they arrive (client.ts).
 */

export interface RunpathViolation {
  seed: number;
  atMs: number;
  run: string;
  client: string;
  kind: string;
  message: string;
}

/** Statuses a program reaches by itself: the client must see all it printed. */
const WHOLE = new Set(['ok', 'runtime_error']);

function key(c: { seq: number; stream: string; data: Uint8Array }): string {
  return `${c.seq}:${c.stream}:${Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).toString('latin1')}`;
}

function matches(view: readonly ViewChunk[], printed: readonly SandboxChunk[], whole: boolean): boolean {
  if (whole ? view.length !== printed.length : view.length > printed.length) return false;
  for (let i = 0; i < view.length; i++) if (key(view[i] as ViewChunk) !== key(printed[i] as SandboxChunk)) return false;
  return true;
}

function describe(view: readonly ViewChunk[], programs: readonly ProgramRecord[]): string {
  const got = `client has ${view.length} chunks (${view.reduce((n, c) => n + c.data.length, 0)} bytes)`;
  const had = programs.map((p) => `${p.worker}: ${p.program.printed.length} chunks, ${p.result?.status ?? 'running'}`).join('; ');
  return `${got}; programs: ${had || 'none ran'}`;
}

/**
 * `died`: whether a Worker life ended (crashed). A run may end node_lost only if a life that
 * started its program died — not a Worker only suspected a while (it refutes and keeps its runs),
 * nor a run offered to a restarted Worker's new life before the Assigner heard of that life (the
 * Worker's yes names its life).
 */
export function checkRuns(seed: number, endMs: number, clients: readonly SimClient[], workers: readonly SimWorker[], died: (w: SimWorker) => boolean): RunpathViolation[] {
  const out: RunpathViolation[] = [];
  const programsOf = new Map<string, ProgramRecord[]>();
  const lostRuns = new Set<string>();
  for (const w of workers) {
    const dead = died(w);
    for (const p of w.programs) {
      if (dead) lostRuns.add(p.program.spec.id);
      const list = programsOf.get(p.program.spec.id) ?? [];
      list.push(p);
      programsOf.set(p.program.spec.id, list);
    }
  }
  for (const c of clients) {
    if (c.id === null) continue;
    const v = (kind: string, message: string) => out.push({ seed, atMs: endMs, run: c.id as string, client: c.name, kind, message });
    const r = c.main;
    if (r.exits === 0 || r.status === null) {
      v('no_terminal_status', `accepted at ${c.acceptedAtMs} ms, no exit read by ${endMs} ms`);
      continue;
    }
    const programs = programsOf.get(c.id) ?? [];
    if (r.status === 'node_lost' && !lostRuns.has(c.id)) v('false_loss', `status node_lost, but no Worker life that ran it died: ${describe(r.view, programs)}`);
    const whole = WHOLE.has(r.status);
    const fits = programs.filter((p) => matches(r.view, p.program.printed, whole) && (!whole || p.result?.status === r.status));
    if (fits.length === 0 && !(r.view.length === 0 && !whole)) v('output', `status ${r.status}, ${whole ? 'not exactly' : 'not a prefix of'} any attempt's output: ${describe(r.view, programs)}`);
    const rr = c.reread;
    if (rr === null) continue;
    if (rr.exits === 0) v('reread', `a fresh reader got no exit (${rr.view.length} chunks)`);
    else if (rr.status !== r.status) v('reread', `a fresh reader got status ${rr.status}, the client ${r.status}`);
    else if (rr.view.length !== r.view.length || rr.view.some((x, i) => key(x) !== key(r.view[i] as ViewChunk))) v('reread', `a fresh reader got ${rr.view.length} chunks, the client ${r.view.length}`);
  }
  return out;
}
