// Accounts and sessions of one L2 (a person signs up and in at their own country's server): a
// small SQLite file beside the replicated store. Passwords are hashed with scrypt (random salt,
// compared in constant time); sessions are random ids in an HTTP-only cookie, each with its own
// CSRF token. The replicated user (u.<id>) and publication are created with the first blog.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';

const SCRYPT = { N: 16_384, r: 8, p: 1, keyLen: 64 };
export const LOGIN_RE = /^[a-z0-9_-]{3,32}$/;
export const PASSWORD_CHARS_MIN = 8;
export const PASSWORD_CHARS_MAX = 200;
/** Bounds: sessions (anonymous ones too: every form needs a CSRF token) and their life. */
export const SESSIONS_MAX = 20_000;
export const SESSION_TTL_MS = 7 * 24 * 3600_000;
export const ACCOUNTS_MAX = 1_000_000;

export interface Account {
  readonly login: string;
  readonly name: string;
  readonly userId: string | null;
}

export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly login: string | null;
}

function hash(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export class AccountError extends Error {
  constructor(
    readonly code: 'LOGIN_TAKEN' | 'BAD_LOGIN' | 'BAD_PASSWORD' | 'WRONG_PASSWORD' | 'TOO_MANY_ACCOUNTS',
    message: string,
  ) {
    super(message);
  }
}

export class Accounts {
  private readonly db: Database.Database;

  constructor(
    file: string,
    private readonly sessionsMax = SESSIONS_MAX,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS accounts (login TEXT PRIMARY KEY, name TEXT NOT NULL, salt BLOB NOT NULL, key BLOB NOT NULL,
        user_id TEXT, created_ms INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, csrf TEXT NOT NULL, login TEXT, seen_ms INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (seen_ms);`);
  }

  async signUp(login: string, name: string, password: string): Promise<Account> {
    if (!LOGIN_RE.test(login)) throw new AccountError('BAD_LOGIN', 'the sign-in name must be 3 to 32 characters of a-z 0-9 _ -');
    const n = name.trim();
    if (n.length < 1 || n.length > 100) throw new AccountError('BAD_LOGIN', 'the display name must be 1 to 100 characters');
    if (password.length < PASSWORD_CHARS_MIN || password.length > PASSWORD_CHARS_MAX) {
      throw new AccountError('BAD_PASSWORD', `the password must be ${PASSWORD_CHARS_MIN} to ${PASSWORD_CHARS_MAX} characters`);
    }
    const count = (this.db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;
    if (count >= ACCOUNTS_MAX) throw new AccountError('TOO_MANY_ACCOUNTS', 'this server holds as many accounts as it may');
    const salt = randomBytes(16);
    const key = await hash(password, salt);
    const r = this.db.prepare('INSERT OR IGNORE INTO accounts (login, name, salt, key, user_id, created_ms) VALUES (?, ?, ?, ?, NULL, ?)').run(login, n, salt, key, Date.now());
    if (r.changes === 0) throw new AccountError('LOGIN_TAKEN', `the sign-in name "${login}" is taken on this server`);
    return { login, name: n, userId: null };
  }

  async signIn(login: string, password: string): Promise<Account> {
    const row = this.db.prepare('SELECT login, name, salt, key, user_id FROM accounts WHERE login = ?').get(login) as
      | { login: string; name: string; salt: Buffer; key: Buffer; user_id: string | null }
      | undefined;
    // An unknown name costs a hash too, so timing does not tell which names exist.
    const key = await hash(password.slice(0, PASSWORD_CHARS_MAX), row?.salt ?? Buffer.alloc(16));
    if (row === undefined || !timingSafeEqual(key, row.key)) throw new AccountError('WRONG_PASSWORD', 'that sign-in name and password do not match an account of this server');
    return { login: row.login, name: row.name, userId: row.user_id };
  }

  account(login: string): Account | undefined {
    const row = this.db.prepare('SELECT login, name, user_id FROM accounts WHERE login = ?').get(login) as { login: string; name: string; user_id: string | null } | undefined;
    return row === undefined ? undefined : { login: row.login, name: row.name, userId: row.user_id };
  }

  setUserId(login: string, userId: string): void {
    this.db.prepare('UPDATE accounts SET user_id = ? WHERE login = ? AND user_id IS NULL').run(userId, login);
  }

  /** The live session of a cookie value, if any. */
  session(id: string | undefined, nowMs: number): Session | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const row = this.db.prepare('SELECT id, csrf, login, seen_ms FROM sessions WHERE id = ?').get(id) as { id: string; csrf: string; login: string | null; seen_ms: number } | undefined;
    if (row === undefined || nowMs - row.seen_ms >= SESSION_TTL_MS) return undefined;
    if (nowMs - row.seen_ms > 60_000) this.db.prepare('UPDATE sessions SET seen_ms = ? WHERE id = ?').run(nowMs, id);
    return { id: row.id, csrf: row.csrf, login: row.login };
  }

  /**
   * A new session (anonymous for a sign-in form, or signed in: the old id is dropped, so no session
   * fixation). Past SESSIONS_MAX the oldest anonymous ones go first, so a flood of visitors to the
   * sign-in page cannot sign people out before their time.
   */
  newSession(login: string | null, nowMs: number, replaces?: string): Session {
    if (replaces !== undefined) this.db.prepare('DELETE FROM sessions WHERE id = ?').run(replaces);
    const count = (this.db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    if (count >= this.sessionsMax) {
      this.db.prepare('DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY login IS NOT NULL, seen_ms LIMIT ?)').run(count - this.sessionsMax + 1);
    }
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), login };
    this.db.prepare('INSERT INTO sessions (id, csrf, login, seen_ms) VALUES (?, ?, ?, ?)').run(s.id, s.csrf, login, nowMs);
    return s;
  }

  dropSession(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  close(): void {
    this.db.close();
  }
}

export function csrfOk(session: Session, token: unknown): boolean {
  // An unstored (anonymous reader's) session has no token: nothing matches it, not even "".
  if (typeof token !== 'string' || session.csrf.length === 0) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
