import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { StateFile } from '../../src/agent/driver.js';

test('the state file keeps the cluster state and the Gateway epochs, whichever is written last', () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'codearena-state-')), 'n.json');
  const cluster = { incarnation: 3, term: 2, votedFor: 'mon-1', lastTerm: 2, orderTerm: 0, orderSeq: 0, hydraTerm: 0, hydraVotedFor: null };
  const gateway = { record: { epoch: 2, holder: 'mon-1' }, granted: { epoch: 2, holder: 'mon-1' } };
  const a = new StateFile(file);
  assert.equal(a.load(), null);
  assert.equal(a.loadGateway(), null);
  a.save(cluster);
  a.saveGateway(gateway);
  a.save({ ...cluster, incarnation: 4 }); // the cluster core writes again: the epochs stay
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { ...cluster, incarnation: 4, gateway });
  const b = new StateFile(file); // a restart
  assert.deepEqual(b.load(), { ...cluster, incarnation: 4 }, 'the cluster core never sees the epochs');
  assert.deepEqual(b.loadGateway(), gateway);
  const c = new StateFile(file); // the Gateway protocol writes first after a restart
  c.saveGateway({ ...gateway, granted: { epoch: 3, holder: 'mon-2' } });
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).incarnation, 4, 'the cluster state stays');
});
