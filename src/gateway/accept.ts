import { randomUUID } from 'node:crypto';
import { CodeArenaError } from '../common/errors.js';
import { OperatingError } from '../protocol/errors.js';
import { findLanguage } from '../sandbox/languages.js';
import { DEFAULT_LIMITS, validateLimits, type Limits } from '../sandbox/limits.js';
import { checkFiles } from '../sandbox/runner.js';
import type { RunSpec } from './api-types.js';
import { isRetryableStartError, type AcceptedRun, type RunBackend } from './backend.js';
import type { RunExtras } from './compat/common.js';
import type { GatewayMetrics } from './metrics.js';
import type { AuthToken } from './options.js';
import type { RunRecord, RunStore } from './run-store.js';

/** What accepting a run uses of the Gateway. */
export interface AcceptParts {
  backend: RunBackend;
  store: RunStore;
  metrics: GatewayMetrics;
  limitsMax: Limits;
  sourceBytesMax: number;
}

/** Accepts a run: checks, quota, placement. Every API (REST, WebSocket, the dialects) comes through here. */
export type AcceptRun = (spec: RunSpec, who: AuthToken, interactiveDefault: boolean, extras?: RunExtras) => Promise<RunRecord>;

/** The limits a spec asks for, in the runner's units, checked against the Gateway's maxima. */
export function limitsOf(spec: RunSpec, extras: RunExtras, limitsMax: Limits): Limits {
  const partial: Partial<Limits> = {};
  if (spec.cpu_time_limit !== undefined) partial.cpuTimeMs = spec.cpu_time_limit * 1000;
  if (spec.wall_time_limit !== undefined) partial.wallTimeMs = spec.wall_time_limit * 1000;
  if (spec.memory_limit !== undefined) partial.memoryKb = spec.memory_limit;
  if (spec.output_limit !== undefined) partial.outputBytesMax = spec.output_limit;
  if (extras.processesMax !== undefined) partial.processesMax = extras.processesMax;
  return validateLimits({ ...DEFAULT_LIMITS, ...partial }, limitsMax);
}

/** A sandbox error in the API's words: the runner names limits by its own fields, the client by the spec's. */
export function apiErrorOf(err: CodeArenaError): OperatingError {
  const msg = err.message
    .replace('limit cpuTimeMs', 'cpu_time_limit (ms)')
    .replace('limit wallTimeMs', 'wall_time_limit (ms)')
    .replace('limit memoryKb', 'memory_limit (KB)')
    .replace('limit outputBytesMax', 'output_limit (bytes)');
  return new OperatingError(err.code, `${msg} — ${err.hint}`);
}

/** The language id a spec names, if the lab offers it. */
async function languageOf(backend: RunBackend, name: string): Promise<string> {
  const langs = await backend.languages();
  let id: string;
  try {
    id = findLanguage(name).id;
  } catch {
    id = '';
  }
  if (!langs.some((l) => l.id === id)) {
    throw new OperatingError('UNKNOWN_LANGUAGE', `unknown language "${name}"; available: ${langs.map((l) => l.id).join(', ')}`);
  }
  return id;
}

export function createAccept(parts: AcceptParts): AcceptRun {
  const { backend, store, metrics, limitsMax, sourceBytesMax } = parts;
  return async (spec, who, interactiveDefault, extras = {}) => {
    const lang = findLanguage(await languageOf(backend, spec.language));
    const files = spec.files ?? [{ name: lang.sourceFile(spec.source ?? ''), content: spec.source ?? '' }];
    const size = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
    if (size > sourceBytesMax) throw new OperatingError('SOURCE_TOO_LARGE', `source is ${size} bytes, over the ${sourceBytesMax}-byte cap`);
    let limits: Limits;
    try {
      limits = limitsOf(spec, extras, limitsMax);
      checkFiles({ source: Buffer.alloc(0), files: files.map((f) => ({ name: f.name, content: Buffer.alloc(0) })) });
    } catch (err) {
      if (err instanceof CodeArenaError) throw apiErrorOf(err);
      throw err;
    }
    if (store.active(who.user) >= who.concurrentRunsMax) {
      metrics.refused.inc({ reason: 'quota' });
      throw new OperatingError('QUOTA', `user ${who.user} already has ${who.concurrentRunsMax} runs going`);
    }
    const run: AcceptedRun = {
      id: randomUUID(),
      user: who.user,
      language: lang.id,
      files,
      main: (files[0] as { name: string }).name,
      stdin: spec.stdin ?? '',
      interactive: spec.interactive ?? interactiveDefault,
      limits,
      ...(extras.args?.length ? { args: extras.args } : {}),
    };
    const rec = store.create(run);
    const t0 = Date.now();
    const started = rec.started.bind(rec);
    rec.started = (info) => {
      metrics.placement.observe((Date.now() - t0) / 1000);
      started(info);
    };
    try {
      await backend.start(run, rec);
    } catch (err) {
      store.drop(rec);
      if (isRetryableStartError(err)) {
        metrics.refused.inc({ reason: err.code.toLowerCase() });
        throw new OperatingError(err.code, err.message);
      }
      throw err;
    }
    metrics.accepted.inc();
    return rec;
  };
}
