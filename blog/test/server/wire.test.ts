import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, userOfToken, userToken } from '../../src/server/api.js';
import { parseEnvelope, WIRE_ITEMS_MAX } from '../../src/server/wire.js';

test('every message kind of the protocol passes the wire check', () => {
  const hlc = { wallMs: 1, logical: 0, origin: 'l1-europe' };
  const blog = { kind: 'blog', hlc, blog: { id: 'b.x', authorId: 'u.a', authorCountry: 'fr', publicationId: 'p.a', title: 't', body: 'b', imageRefs: [], createdMs: 1, updatedMs: 1 } };
  const messages = [
    { type: 'write', corrId: 1, request: { requestId: 'abcdefgh', userId: null, write: { op: 'register', name: 'n', country: 'fr', slug: 'abc', publicationTitle: 't' } } },
    { type: 'fetch', corrId: 2, key: 'blog:b.x' },
    { type: 'heartbeat', syncedSeq: 3, reads: [{ blogId: 'b.x', count: 2 }] },
    { type: 'catchup-request', corrId: 3, phase: 'log', afterSeq: 0, country: 'fr', fullChangesLeft: 10, wantKeys: [] },
    { type: 'write-ack', corrId: 1, changes: [blog] },
    { type: 'write-refuse', corrId: 1, error: { code: 'NOT_AUTHOR', message: 'no' } },
    { type: 'fetch-reply', corrId: 2, key: 'blog:b.x', change: null },
    { type: 'heartbeat-ack', headSeq: 4 },
    { type: 'push', afterSeq: 0, toSeq: 1, changes: [blog] },
    { type: 'catchup-page', corrId: 3, phase: 'most-read', afterSeq: 0, toSeq: 1, changes: [], notices: [{ key: 'blog:b.x', hlc }], done: true },
    { type: 'batch', batchId: 1, changes: [blog, { kind: 'tombstone', hlc, tombstone: { blogId: 'b.x', authorId: 'u.a', authorCountry: 'fr', publicationId: 'p.a', deletedMs: 2 } }] },
    { type: 'batch-ack', batchId: 1 },
    { type: 'batch-refuse', batchId: 1, error: { code: 'CLOCK_SKEW', message: 'ahead' } },
    { type: 'sync-request', round: 1, afterSeq: 0, pageChangesMax: 200 },
    { type: 'sync-page', round: 1, afterSeq: 0, toSeq: 1, changes: [], done: true },
  ];
  const r = parseEnvelope({ messages });
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.messages.length, messages.length);
});

test('unknown kinds, extra fields, wrong types and unbounded arrays are refused with the path', () => {
  const bad = (m: unknown): string => {
    const r = parseEnvelope({ messages: [m] });
    assert.ok(!r.ok);
    return r.message;
  };
  assert.match(bad({ type: 'launch-missiles' }), /messages\.0\.type/);
  assert.match(bad({ type: 'batch-ack', batchId: 1, extra: true }), /messages\.0/);
  assert.match(bad({ type: 'heartbeat-ack', headSeq: -1 }), /messages\.0\.headSeq/);
  assert.match(bad({ type: 'sync-request', round: 1, afterSeq: 1.5, pageChangesMax: 1 }), /afterSeq/);
  const many = Array.from({ length: WIRE_ITEMS_MAX + 1 }, () => 'blog:b.x');
  assert.match(bad({ type: 'catchup-request', corrId: 1, phase: 'log', afterSeq: 0, country: 'fr', fullChangesLeft: 1, wantKeys: many }), /wantKeys/);
  assert.equal(parseEnvelope({ messages: Array.from({ length: 65 }, () => ({ type: 'batch-ack', batchId: 1 })) }).ok, false);
  assert.equal(parseEnvelope('{"messages":[]}').ok, false, 'a string is not an envelope');
});

test('user tokens: minted with the secret, checked without asking anyone, forged ones refused', () => {
  const secret = 'the-shared-secret-of-this-world';
  const t = userToken(secret, 'u.alice-0001');
  assert.equal(userOfToken(secret, `Bearer ${t}`), 'u.alice-0001');
  const refused = (h: string | undefined) => assert.throws(() => userOfToken(secret, h), (e: unknown) => e instanceof ApiError && e.statusCode === 401);
  refused(undefined);
  refused(t);
  refused(`Bearer ${userToken('another-secret-entirely', 'u.alice-0001')}`);
  refused(`Bearer ${t.replace('u.alice-0001', 'u.bob-000001')}`);
  refused('Bearer u.alice-0001');
  refused('Bearer ~');
});
