import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ErrorCode } from '../../src/common/errors.js';
import type { AssignerTimeoutError, NoCapacityError, QueueFullError } from '../../src/gateway/backend.js';
import type { PackageError } from '../../src/judge/package-files.js';
import { ERROR_TABLE, httpStatusOf, OperatingError } from '../../src/protocol/errors.js';
import { JudgeError } from '../../src/judge/service.js';
import type { OperatingErrorCode } from '../../src/protocol/errors.js';
import type { WireErrorCode } from '../../src/wire/errors.js';

// Compile time: every error class's codes are rows of the table (OperatingError and JudgeError take an
// OperatingErrorCode, so theirs are checked where they are thrown).
type FamilyCodes = ErrorCode | WireErrorCode | PackageError['code'] | QueueFullError['code'] | NoCapacityError['code'] | AssignerTimeoutError['code'];
const everyFamilyCodeIsARow: [FamilyCodes] extends [OperatingErrorCode] ? true : false = true;

test('docs/ERRORS.md lists exactly the table\'s rows, each with its HTTP status', () => {
  assert.equal(everyFamilyCodeIsARow, true);
  const doc = readFileSync(new URL('../../../docs/ERRORS.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\| `([A-Z_]+)` \| ([0-9]{3}|—) \|/.exec(line);
    if (m) rows.set(m[1] as string, m[2] as string);
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_TABLE).sort());
  for (const [code, row] of Object.entries(ERROR_TABLE)) assert.equal(rows.get(code), row.httpStatus === null ? '—' : String(row.httpStatus), code);
});

test('a code that never reaches HTTP answers 500 if it ever does; the rest their own status', () => {
  assert.equal(httpStatusOf('QUEUE_FULL'), 503);
  assert.equal(httpStatusOf('UNAUTHORIZED'), 401);
  assert.equal(httpStatusOf('WIRE_IDLE'), 500);
});

test('an operating error takes its status and hint from its row, whoever throws it', () => {
  const e = new OperatingError('NOT_FOUND', 'no such run');
  assert.equal(e.statusCode, 404);
  assert.equal(e.hint, ERROR_TABLE.NOT_FOUND.hint);
  const j = new JudgeError('BATCH_TOO_LARGE', 'too many');
  assert.ok(j instanceof OperatingError);
  assert.equal(j.statusCode, 413);
  assert.equal(j.hint, 'split it');
});
