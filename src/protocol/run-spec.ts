import assert from 'node:assert/strict';
import { findLanguage } from '../sandbox/languages.js';
import type { RunRequest } from '../sandbox/runner.js';
import type { RunSpecWire } from './run-messages.js';

/**
 * A run as the Gateway accepted it, turned into what the sandbox runs: the main file becomes the
 * source (the language registry names it), every other file goes beside it. One function for the
 * Worker and the one-machine backend, which used to do this each their own way: for a run with two
 * files of the main file's name the Worker wrote the second beside the source and the local backend
 * dropped it, so one program gave two results. Duplicate names are now refused at the edge
 * (RunSpecWireSchema, checkFiles), and both paths take the main file the same way.
 */
export function sandboxRequestOf(spec: Pick<RunSpecWire, 'language' | 'files' | 'main' | 'stdin' | 'interactive' | 'limits' | 'args'>): Omit<RunRequest, 'pool' | 'queueChunksMax'> {
  const main = spec.files.find((f) => f.name === spec.main);
  // The Gateway and the judge name files[0]; the wire schema refuses a spec without it.
  assert.ok(main, `run spec names main file "${spec.main}", which is not among its files`);
  return {
    language: findLanguage(spec.language),
    source: Buffer.from(main.content),
    files: spec.files.filter((f) => f !== main).map((f) => ({ name: f.name, content: Buffer.from(f.content) })),
    stdin: Buffer.from(spec.stdin),
    interactive: spec.interactive,
    limits: spec.limits,
    ...(spec.args ? { args: spec.args } : {}),
  };
}
