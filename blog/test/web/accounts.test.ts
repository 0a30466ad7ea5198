import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountError, Accounts, csrfOk } from '../../src/web/accounts.js';

describe('web: accounts and sessions', () => {
  it('hashes with a salt, refuses a wrong password and a taken name, and checks shapes', async () => {
    const a = new Accounts(':memory:');
    await a.signUp('alice', 'Alice', 'correct horse');
    const row = (a as unknown as { db: { prepare: (s: string) => { all: () => Array<{ key: Buffer; salt: Buffer }> } } }).db.prepare('SELECT key, salt FROM accounts').all()[0]!;
    assert.equal(row.key.length, 64);
    assert.ok(!row.key.toString('latin1').includes('correct horse'), 'the password is not stored');
    assert.equal((await a.signIn('alice', 'correct horse')).name, 'Alice');
    await assert.rejects(a.signIn('alice', 'wrong horse!'), (e: AccountError) => e.code === 'WRONG_PASSWORD');
    await assert.rejects(a.signIn('nobody', 'correct horse'), (e: AccountError) => e.code === 'WRONG_PASSWORD');
    await assert.rejects(a.signUp('alice', 'Other', 'another pass'), (e: AccountError) => e.code === 'LOGIN_TAKEN');
    await assert.rejects(a.signUp('A B', 'x', 'another pass'), (e: AccountError) => e.code === 'BAD_LOGIN');
    await assert.rejects(a.signUp('bob', 'Bob', 'short'), (e: AccountError) => e.code === 'BAD_PASSWORD');
    // Two accounts with the same password get different keys (the salt).
    await a.signUp('bob', 'Bob', 'correct horse');
    const keys = (a as unknown as { db: { prepare: (s: string) => { all: () => Array<{ key: Buffer }> } } }).db.prepare('SELECT key FROM accounts').all();
    assert.notDeepEqual(keys[0]!.key, keys[1]!.key);
    a.close();
  });

  it('sessions are bounded (anonymous ones evicted first), expire, and carry their own CSRF token', () => {
    const a = new Accounts(':memory:', 3);
    const signedIn = a.newSession('alice', 1_000);
    const anon = [a.newSession(null, 2_000), a.newSession(null, 3_000), a.newSession(null, 4_000)];
    assert.ok(a.session(signedIn.id, 5_000) !== undefined, "a flood of anonymous sessions does not sign Alice out");
    assert.equal(a.session(anon[0]!.id, 5_000), undefined, 'the oldest anonymous session went');
    assert.equal(a.session(signedIn.id, 1_000 + 8 * 24 * 3600_000), undefined, 'expired after 7 days unused');
    assert.equal(a.session('not-a-session', 5_000), undefined);
    assert.ok(csrfOk(anon[2]!, anon[2]!.csrf));
    assert.ok(!csrfOk(anon[2]!, anon[1]!.csrf));
    assert.ok(!csrfOk(anon[2]!, undefined));
    assert.ok(!csrfOk({ id: '', csrf: '', login: null }, ''), 'an unstored session matches no token');
    const next = a.newSession('alice', 6_000, anon[2]!.id);
    assert.equal(a.session(anon[2]!.id, 6_000), undefined, 'signing in replaces the session id');
    assert.notEqual(next.csrf, anon[2]!.csrf);
    a.close();
  });
});
