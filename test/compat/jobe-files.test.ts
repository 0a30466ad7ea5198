import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobeFileStore } from '../../src/gateway/compat/jobe-files.js';

test('Jobe file store: content stored once, ids and bytes bounded, least recently used evicted', () => {
  const s = new JobeFileStore(3, 10);
  s.put('aaaaaaaa', Buffer.from('1234'));
  s.put('bbbbbbbb', Buffer.from('1234')); // same content, second id
  assert.deepEqual(s.size, { ids: 2, bytes: 4 });
  s.put('cccccccc', Buffer.from('abcd'));
  assert.deepEqual(s.size, { ids: 3, bytes: 8 });
  assert.equal(s.get('aaaaaaaa')?.toString(), '1234'); // now the most recently used
  s.put('dddddddd', Buffer.from('xy')); // 4 ids > 3: bbbbbbbb (least recent) goes; its content is still aaaaaaaa's
  assert.equal(s.has('bbbbbbbb'), false);
  assert.deepEqual(s.size, { ids: 3, bytes: 10 });
  s.put('eeeeeeee', Buffer.from('zz')); // 12 bytes > 10: cccccccc goes, then the id bound holds
  assert.equal(s.has('cccccccc'), false);
  assert.equal(s.has('aaaaaaaa'), true);
  assert.ok(s.size.bytes <= 10 && s.size.ids <= 3);
  s.put('aaaaaaaa', Buffer.from('new')); // an id re-put with other content replaces it
  assert.equal(s.get('aaaaaaaa')?.toString(), 'new');
  assert.throws(() => s.put('ffffffff', Buffer.alloc(11)), /over the store/);
});
