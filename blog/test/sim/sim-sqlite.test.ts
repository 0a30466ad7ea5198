// The simulator over the real SQLite store (in memory): the replication core and the store the
// servers use agree on every invariant, not only the memory twin.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { runSimulation } from '../../src/sim/sim.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const opened: SqliteStore[] = [];
after(() => {
  for (const s of opened) s.close();
});

it('a few seeds over SqliteStore: no invariant violated, same run as over the memory store', () => {
  for (const seed of [1, 2, 3]) {
    const r = runSimulation({
      seed,
      makeStore: () => {
        const s = new SqliteStore(':memory:', { durability: 'normal' });
        opened.push(s);
        return s;
      },
    });
    assert.deepEqual(r.violations, [], `seed ${seed} over SQLite`);
    const m = runSimulation({ seed });
    assert.deepEqual(r.stats, m.stats, `seed ${seed}: the SQLite run and the memory run took the same course`);
  }
});
