import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asShort, shortOf, VERDICTS } from '../../src/judge/verdicts.js';

test('one short code per verdict, each read back by asShort; anything else is not a code', () => {
  const shorts = VERDICTS.map(shortOf);
  assert.equal(new Set(shorts).size, VERDICTS.length, 'no two verdicts share a code');
  assert.deepEqual(shorts, ['AC', 'PA', 'WA', 'TLE', 'MLE', 'RE', 'OLE', 'CE', 'IE', 'SK']);
  for (const s of shorts) assert.equal(asShort(s), s);
  for (const x of [null, undefined, '', 'ac', 'accepted', 'XX']) assert.equal(asShort(x), null);
});
