import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLink, HDR_FROM, HDR_SIG, HDR_TS, signLink } from '../../src/server/link.js';

const secret = 'the-shared-secret-of-this-world';
const base = { secret, ageMaxMs: 60_000, urlPath: '/link/l1', knownPeer: (n: string) => n === 'l1-europe' };
function headers(tsMs: number, from: string, body: string, key = secret, p = '/link/l1') {
  return { [HDR_TS]: String(tsMs), [HDR_FROM]: from, [HDR_SIG]: signLink(key, tsMs, from, p, body) };
}

test('a correctly signed, fresh message from a known peer passes', () => {
  const body = '{"kind":"push"}';
  assert.deepEqual(checkLink({ ...base, nowMs: 1_000_000, headers: headers(1_000_000, 'l1-europe', body), body }), {
    ok: true,
    from: 'l1-europe',
  });
});

test('forged, altered, stale, unsigned and unknown-peer messages are refused with their code', () => {
  const body = '{"kind":"push"}';
  const now = 5_000_000;
  const codeOf = (h: Record<string, string>, b = body, urlPath = '/link/l1') => {
    const r = checkLink({ ...base, urlPath, nowMs: now, headers: h, body: b });
    return r.ok ? 'ok' : r.code;
  };
  assert.equal(codeOf(headers(now, 'l1-europe', body, 'another-secret-entirely')), 'LINK_BAD_SIGNATURE');
  assert.equal(codeOf(headers(now, 'l1-europe', body), '{"kind":"push","x":1}'), 'LINK_BAD_SIGNATURE');
  assert.equal(codeOf(headers(now, 'l1-europe', body), body, '/link/l2'), 'LINK_BAD_SIGNATURE');
  assert.equal(codeOf({ ...headers(now, 'l1-europe', body), [HDR_FROM]: 'l1-asia' }), 'LINK_BAD_SIGNATURE');
  assert.equal(codeOf({ ...headers(now, 'l1-europe', body), [HDR_SIG]: 'zz' }), 'LINK_BAD_SIGNATURE');
  assert.equal(codeOf(headers(now - 60_001, 'l1-europe', body)), 'LINK_STALE');
  assert.equal(codeOf(headers(now + 60_001, 'l1-europe', body)), 'LINK_STALE');
  assert.equal(codeOf(headers(now - 59_000, 'l1-europe', body)), 'ok');
  assert.equal(codeOf({ [HDR_TS]: String(now) }), 'LINK_UNSIGNED');
  assert.equal(codeOf(headers(now, 'l1-mars', body)), 'LINK_UNKNOWN_PEER');
});
