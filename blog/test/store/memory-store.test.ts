import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryStore } from '../../src/store/memory-store.js';
import { blogChange, hlc, runStoreContract } from './contract.js';

runStoreContract('memory', () => new MemoryStore());

it('the broken options (for checker tests) really break LWW', () => {
  for (const broken of ['ignore-lww', 'oldest-wins'] as const) {
    const s = new MemoryStore({ broken });
    s.apply(blogChange('b1', hlc(20), { title: 'new' }));
    s.apply(blogChange('b1', hlc(10), { title: 'old' }));
    assert.equal(s.getBlog('b1')?.title, 'old', broken);
  }
});
