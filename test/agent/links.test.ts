import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AddressBook } from '../../src/agent/address-book.js';
import { listenForMembers, memberLinks } from '../../src/agent/links.js';
import { createLogger } from '../../src/agent/log.js';
import type { WireMessage } from '../../src/agent/wire-messages.js';
import { loadConfig } from '../../src/config/load.js';
import { writeLocalConfig } from '../helpers/agents.js';

// A Monitor's heartbeat_ack goes back on the link the heartbeat came in on, so a Worker's
// heartbeat thread (which opened that link) gets it without its main thread's listener waking.
const lab = writeLocalConfig();
const config = loadConfig(lab.file);
const book = new AddressBook(config);
const log = createLogger('links-test', 'silent');
const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function member(name: string) {
  const inbox: Array<{ from: string; msg: WireMessage; via: 'listener' | 'own link' }> = [];
  const self = config.nodes.find((n) => n.name === name);
  assert.ok(self);
  const peers = memberLinks({ config, name, book, log, dispatch: (from, msg) => void inbox.push({ from, msg, via: 'own link' }) });
  const listening = listenForMembers({ config, name, book, log, replies: peers, host: self.address, port: self.port, dispatch: (from, msg) => void inbox.push({ from, msg, via: 'listener' }) });
  closers.push(async () => {
    peers.close();
    await (await listening).close();
  });
  return { peers, inbox, listening };
}

const heartbeat = (from: string): WireMessage => ({
  type: 'heartbeat', from, incarnation: 1, life: 1, version: 1, role: 'worker', monitor: 'mon-1',
  load: { psiCpu: 0, psiMemory: 0, psiIo: 0, slotsFree: 1, slotsBusy: 0 }, languages: ['python'], monitorsHash: 0,
});
const ack = (to: string): WireMessage => ({
  type: 'heartbeat_ack', from: 'mon-1', yourIncarnation: 1, yourStatus: 'alive', yourVersion: 1, preferredMonitor: null, monitors: [], leader: null,
});

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('an ack goes back on the link its heartbeat came on; other messages on the sender\'s own link', async () => {
  const mon = member('mon-1');
  const wrk = member('wrk-1');
  await Promise.all([mon.listening, wrk.listening]);
  wrk.peers.send('mon-1', heartbeat('wrk-1'));
  await until('the Monitor gets the heartbeat', () => mon.inbox.length === 1);
  assert.equal(mon.inbox[0]?.via, 'listener');
  mon.peers.send('wrk-1', ack('wrk-1'));
  await until('the ack arrives', () => wrk.inbox.length === 1);
  assert.deepEqual(wrk.inbox[0], { from: 'mon-1', msg: ack('wrk-1'), via: 'own link' }, 'the ack came back on the link wrk-1 opened');
  const order: WireMessage = { type: 'order_role', from: 'mon-1', term: 1, seq: 1, target: 'wrk-1', role: 'worker', buddy: null };
  mon.peers.send('wrk-1', order);
  await until('the order arrives', () => wrk.inbox.length === 2);
  assert.equal(wrk.inbox[1]?.via, 'listener', 'not a reply: on the Monitor\'s own link, to the listener');
});

test('without a heartbeat from the peer (or after its link closed) an ack goes on the sender\'s own link', async () => {
  const mon = member('mon-2');
  const wrk = member('empty-1');
  await Promise.all([mon.listening, wrk.listening]);
  mon.peers.send('empty-1', ack('empty-1'));
  await until('the ack arrives', () => wrk.inbox.length === 1);
  assert.equal(wrk.inbox[0]?.via, 'listener');
  wrk.peers.send('mon-2', heartbeat('empty-1'));
  await until('the Monitor gets the heartbeat', () => mon.inbox.length === 1);
  wrk.peers.close(); // the link the heartbeat came on closes
  await new Promise((r) => setTimeout(r, 200));
  mon.peers.send('empty-1', ack('empty-1'));
  await until('the second ack arrives', () => wrk.inbox.length === 2);
  assert.equal(wrk.inbox[1]?.via, 'listener', 'the closed link is forgotten');
});
