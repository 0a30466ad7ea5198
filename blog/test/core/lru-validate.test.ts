import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lru } from '../../src/core/lru.js';
import type { WriteRequest } from '../../src/core/types.js';
import { DEFAULT_CONTENT_LIMITS, validateWrite } from '../../src/core/validate.js';

describe('Lru', () => {
  it('evicts the least recently used entry past its bound; a get refreshes', () => {
    const c = new Lru<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('c', 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
    assert.equal(c.size, 2);
    c.delete('a');
    assert.equal(c.get('a'), undefined);
    assert.throws(() => new Lru(0));
  });
});

describe('validateWrite', () => {
  const base = (write: WriteRequest['write'], userId: string | null = 'u.alice0001', requestId = 'req000001'): WriteRequest => ({ requestId, userId, write });
  const create = (over: Partial<{ title: string; body: string; imageRefs: string[] }> = {}) =>
    base({ op: 'create-blog', title: 't', body: 'b', imageRefs: [], ...over });
  const table: Array<[string, WriteRequest, string | null]> = [
    ['a fine post', create({ imageRefs: ['https://img.example/a.PNG', '/images/b.webp?x=1'] }), null],
    ['a short requestId', base({ op: 'delete-blog', blogId: 'b.abcdefgh' }, 'u.alice0001', 'short'), 'BAD_REQUEST'],
    ['a body just over 64 KiB', create({ body: 'é'.repeat(32 * 1024 + 1) }), 'BODY_TOO_LARGE'],
    ['a body of exactly 64 KiB', create({ body: 'x'.repeat(64 * 1024) }), null],
    ['a video', create({ imageRefs: ['https://v.example/a.webm'] }), 'VIDEO_NOT_ALLOWED'],
    ['a video with a query', create({ imageRefs: ['https://v.example/a.MOV?t=1'] }), 'VIDEO_NOT_ALLOWED'],
    ['17 images', create({ imageRefs: Array.from({ length: 17 }, (_, i) => `/i/${i}.png`) }), 'BAD_REQUEST'],
    ['a title of 201 characters', create({ title: 'x'.repeat(201) }), 'BAD_REQUEST'],
    ['a write without a user', base({ op: 'delete-blog', blogId: 'b.abcdefgh' }, null), 'BAD_REQUEST'],
    ['a register with a user', base({ op: 'register', name: 'A', country: 'fr', slug: 'abc', publicationTitle: 'A' }), 'BAD_REQUEST'],
    ['a slug with "--" (reserved for renamed duplicates)', base({ op: 'register', name: 'A', country: 'fr', slug: 'ab--cd', publicationTitle: 'A' }, null), 'BAD_REQUEST'],
    ['an upper-case country', base({ op: 'register', name: 'A', country: 'FR', slug: 'abc', publicationTitle: 'A' }, null), 'BAD_REQUEST'],
    ['a good registration', base({ op: 'register', name: 'A', country: 'fr', slug: 'alice-writes', publicationTitle: 'A' }, null), null],
    ['a blog id that is not one', base({ op: 'delete-blog', blogId: 'u.abcdefgh' }), 'BAD_REQUEST'],
  ];
  for (const [name, req, code] of table) {
    it(`${name}: ${code ?? 'accepted'}`, () => {
      assert.equal(validateWrite(req, DEFAULT_CONTENT_LIMITS)?.code ?? null, code);
    });
  }
});
