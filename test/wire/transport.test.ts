import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { packEnvelope, PROTOCOL_VERSION } from '../../src/wire/codec.js';
import { type Connection, resolveLimits, type WireLimits } from '../../src/wire/connection.js';
import { isWireError, type WireErrorCode } from '../../src/wire/errors.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { derivePsk, PSK_CIPHERS, PSK_TLS_VERSION } from '../../src/wire/psk.js';
import { connect, listen, type Listener, type Rejection } from '../../src/wire/transport.js';
import { capturingLogger, eventually, OTHER_SECRET, SECRET, testSchema, type TestMsg } from './helpers.js';

const HOST = '127.0.0.1';
const TEST_TIMEOUT_MS = 20_000;

interface Server {
  listener: Listener;
  accepted: Array<Connection<TestMsg>>;
  rejections: Rejection[];
  logger: ReturnType<typeof capturingLogger>;
}

const servers: Listener[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startServer(
  options: { limits?: Partial<WireLimits>; acceptPeer?: (name: string) => boolean; echo?: boolean } = {},
): Promise<Server> {
  const logger = capturingLogger();
  const accepted: Array<Connection<TestMsg>> = [];
  const rejections: Rejection[] = [];
  const listener = await listen({
    host: HOST,
    port: 0,
    secret: SECRET,
    name: 'srv',
    schema: testSchema,
    logger,
    limits: options.limits,
    acceptPeer: options.acceptPeer,
    onRejected: (r) => rejections.push(r),
    onConnection: (c) => {
      accepted.push(c);
      if (options.echo !== false) void echo(c);
    },
  });
  servers.push(listener);
  return { listener, accepted, rejections, logger };
}

async function echo(connection: Connection<TestMsg>): Promise<void> {
  for await (const msg of connection) connection.send(msg);
}

function client(port: number, name = 'node-a', secret = SECRET): Promise<Connection<TestMsg>> {
  return connect({ host: HOST, port, secret, name, schema: testSchema, logger: capturingLogger() });
}

/** Takes the next n messages from a connection. */
async function take(connection: Connection<TestMsg>, n: number): Promise<TestMsg[]> {
  const out: TestMsg[] = [];
  if (n === 0) return out;
  for await (const msg of connection) {
    out.push(msg);
    if (out.length === n) break;
  }
  return out;
}

async function assertEchoes(connection: Connection<TestMsg>): Promise<void> {
  assert.ok(connection.send({ type: 'text', body: 'still here' }));
  assert.deepEqual(await take(connection, 1), [{ type: 'text', body: 'still here' }]);
}

/** A TLS-PSK client that speaks raw bytes: it holds the secret but not the protocol. */
function rawPskClient(port: number, name = 'raw'): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: HOST,
      port,
      ciphers: PSK_CIPHERS,
      minVersion: PSK_TLS_VERSION,
      maxVersion: PSK_TLS_VERSION,
      checkServerIdentity: () => undefined,
      pskCallback: () => ({ psk: derivePsk(SECRET), identity: name }),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closedWith(code: WireErrorCode) {
  return async (connection: Connection<TestMsg>): Promise<void> => {
    const reason = await connection.closed;
    assert.ok(isWireError(reason, code), `expected ${code}, got ${reason?.code ?? 'a clean close'}`);
  };
}

test('1000 messages round-trip in order, and each side knows the other by name', { timeout: TEST_TIMEOUT_MS }, async () => {
  const MESSAGES = 1000;
  const server = await startServer();
  const connection = await client(server.listener.port);
  assert.equal(connection.peerName, 'srv');
  for (let n = 0; n < MESSAGES; n++) assert.ok(connection.send({ type: 'ping', n }));
  const echoed = await take(connection, MESSAGES);
  assert.deepEqual(
    echoed.map((m) => (m.type === 'ping' ? m.n : -1)),
    Array.from({ length: MESSAGES }, (_, n) => n),
  );
  assert.equal(server.accepted[0]?.peerName, 'node-a');
  connection.close();
  assert.equal(await connection.closed, null);
});

test('a slow consumer pauses the peer instead of growing its inbox, and loses nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const MESSAGES = 300;
  const INBOX_MESSAGES_MAX = 4;
  // 4 KiB bodies: one TLS record (16 KiB) carries at most 4, so one read overshoots the bound by few.
  const INBOX_OVERSHOOT_MAX = 8;
  const body = 'y'.repeat(4096);
  const server = await startServer({ echo: false, limits: { inboxMessagesMax: INBOX_MESSAGES_MAX } });
  const connection = await client(server.listener.port);
  for (let n = 0; n < MESSAGES; n++) connection.send({ type: 'text', body: `${n}:${body}` });
  await eventually(() => server.accepted.length === 1, 'the server connection');
  const serverSide = server.accepted[0] as Connection<TestMsg>;
  await new Promise((r) => setTimeout(r, 200)); // the consumer is away; the peer keeps sending
  assert.ok(serverSide.inboxMessages >= INBOX_MESSAGES_MAX, 'the inbox filled');
  assert.ok(serverSide.inboxMessages <= INBOX_MESSAGES_MAX + INBOX_OVERSHOOT_MAX, `inbox grew to ${serverSide.inboxMessages}`);
  const received = (await take(serverSide, MESSAGES)).map((m) => (m.type === 'text' ? Number(m.body.split(':')[0]) : -1));
  assert.deepEqual(received, Array.from({ length: MESSAGES }, (_, n) => n));
  connection.close();
});

test('a wrong secret fails the handshake, is logged, and the server serves the next client', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  await assert.rejects(client(server.listener.port, 'intruder', OTHER_SECRET), (err) => isWireError(err, 'WIRE_HANDSHAKE'));
  await eventually(() => server.rejections.length === 1, 'the rejection');
  assert.equal(server.rejections[0]?.error.code, 'WIRE_HANDSHAKE');
  assert.ok(server.logger.warnings.some((w) => /handshake .* failed/.test(w.message)), 'the handshake failure is logged');
  assert.equal(server.accepted.length, 0, 'the intruder never got a connection');
  await assertEchoes(await client(server.listener.port));
});

test('a plain TCP client sending garbage is refused and harms no one', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const good = await client(server.listener.port);
  const plain = net.connect(server.listener.port, HOST);
  plain.on('error', () => {}); // the server may reset it
  plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => plain.once('close', resolve));
  await eventually(() => server.rejections.length === 1, 'the rejection');
  assert.equal(server.rejections[0]?.error.code, 'WIRE_HANDSHAKE');
  await assertEchoes(good);
  await assertEchoes(await client(server.listener.port));
});

test('a handshake that never starts times out on the server', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer({ limits: { handshakeTimeoutMs: 200 } });
  const silent = net.connect(server.listener.port, HOST);
  silent.on('error', () => {});
  await new Promise((resolve) => silent.once('close', resolve));
  assert.equal(server.rejections[0]?.error.code, 'WIRE_HANDSHAKE');
});

test('a client gives up on a server that never answers the handshake', { timeout: TEST_TIMEOUT_MS }, async () => {
  const mute = net.createServer(() => {});
  await new Promise<void>((resolve) => mute.listen(0, HOST, resolve));
  const port = (mute.address() as net.AddressInfo).port;
  const started = Date.now();
  await assert.rejects(
    connect({ host: HOST, port, secret: SECRET, name: 'a', schema: testSchema, logger: capturingLogger(), limits: { handshakeTimeoutMs: 200 } }),
    (err) => isWireError(err, 'WIRE_HANDSHAKE') && /within 200 ms/.test(err.message),
  );
  assert.ok(Date.now() - started < 2_000, 'the client waited far past its timeout');
  mute.close();
  mute.unref();
});

test('garbage after the handshake closes only that connection', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const good = await client(server.listener.port);
  const raw = await rawPskClient(server.listener.port);
  raw.on('error', () => {});
  raw.write(encodeFrame(Buffer.from('c1c1c1', 'hex')));
  await eventually(() => server.accepted.length === 2, 'both connections');
  await closedWith('WIRE_BAD_FRAME')(server.accepted[1] as Connection<TestMsg>);
  await new Promise((resolve) => raw.once('close', resolve));
  assert.ok(server.logger.warnings.some((w) => /MessagePack/.test(w.message)), 'the bad frame is logged');
  await assertEchoes(good);
});

test('an oversized frame header closes the connection before its body is sent', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const raw = await rawPskClient(server.listener.port);
  raw.on('error', () => {});
  raw.write(Buffer.from('7fffffff', 'hex')); // announces 2 GiB, sends none of it
  await eventually(() => server.accepted.length === 1, 'the connection');
  await closedWith('WIRE_TOO_LARGE')(server.accepted[0] as Connection<TestMsg>);
  await new Promise((resolve) => raw.once('close', resolve));
});

test('a peer of another protocol version is refused with both versions named', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const raw = await rawPskClient(server.listener.port);
  raw.on('error', () => {});
  raw.write(encodeFrame(packEnvelope({ v: PROTOCOL_VERSION + 1, seq: 1, msg: { type: 'ping', n: 1 } })));
  await eventually(() => server.accepted.length === 1, 'the connection');
  const reason = await (server.accepted[0] as Connection<TestMsg>).closed;
  assert.ok(isWireError(reason, 'WIRE_VERSION'));
  assert.match(reason.message, new RegExp(`v${PROTOCOL_VERSION + 1}.*v${PROTOCOL_VERSION}`));
});

test('a replayed frame is refused over the wire', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer({ echo: false });
  const raw = await rawPskClient(server.listener.port);
  raw.on('error', () => {});
  const frame = encodeFrame(packEnvelope({ v: PROTOCOL_VERSION, seq: 1, msg: { type: 'ping', n: 1 } }));
  raw.write(Buffer.concat([frame, frame]));
  await eventually(() => server.accepted.length === 1, 'the connection');
  const connection = server.accepted[0] as Connection<TestMsg>;
  assert.deepEqual(await take(connection, 1), [{ type: 'ping', n: 1 }], 'the first copy is delivered');
  await closedWith('WIRE_REPLAY')(connection);
});

test('a listener refuses a peer name it does not accept', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer({ acceptPeer: (name) => name.startsWith('pc-') });
  await assert.rejects(client(server.listener.port, 'laptop'), (err) => isWireError(err, 'WIRE_HANDSHAKE'));
  await eventually(() => server.rejections.length === 1, 'the rejection');
  assert.equal(server.rejections[0]?.error.code, 'WIRE_PEER_REFUSED');
  await assertEchoes(await client(server.listener.port, 'pc-07'));
  await assert.rejects(client(server.listener.port, 'no spaces'), (err) => isWireError(err, 'WIRE_PEER_REFUSED'));
});

test('a client refuses a server that is not the node it expected', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const options = { host: HOST, port: server.listener.port, secret: SECRET, name: 'a', schema: testSchema, logger: capturingLogger() };
  await assert.rejects(connect({ ...options, expectedPeerName: 'mon-1' }), (err) => isWireError(err, 'WIRE_HANDSHAKE') && /not "mon-1"/.test(err.hint));
  await assertEchoes(await connect({ ...options, expectedPeerName: 'srv' }));
});

test('a peer that stops reading is cut off at the outgoing bound', { timeout: TEST_TIMEOUT_MS }, async () => {
  const OUTGOING_BYTES_MAX = 256 * 1024;
  const SENT_BYTES_MAX = 32 * 1024 * 1024; // far past loopback socket buffers: the loop must stop before
  const limits = { outgoingBytesMax: OUTGOING_BYTES_MAX, frameBytesMax: 64 * 1024 };
  const server = await startServer({ echo: false, limits });
  const raw = await rawPskClient(server.listener.port);
  raw.on('error', () => {});
  raw.pause(); // never reads
  await eventually(() => server.accepted.length === 1, 'the connection');
  const connection = server.accepted[0] as Connection<TestMsg>;
  const body = 'x'.repeat(60 * 1024);
  let sentBytes = 0;
  while (connection.send({ type: 'text', body })) {
    sentBytes += body.length;
    assert.ok(sentBytes < SENT_BYTES_MAX, 'the outgoing buffer grew without bound');
    assert.ok(connection.outgoingBytes <= OUTGOING_BYTES_MAX, `${connection.outgoingBytes} bytes queued`);
    if (sentBytes % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r)); // let the kernel fill
  }
  await closedWith('WIRE_SEND_OVERFLOW')(connection);
  assert.equal(connection.send({ type: 'ping', n: 1 }), false, 'nothing is queued after close');
  raw.destroy();
});

test('limits that could never send a whole frame are refused up front', () => {
  assert.throws(() => resolveLimits({ frameBytesMax: 1024, outgoingBytesMax: 1024 }), /whole frame/);
  assert.throws(() => resolveLimits({ idleTimeoutMs: 0 }), /positive integer/);
  assert.equal(resolveLimits({ frameBytesMax: 1024, outgoingBytesMax: 1028 }).outgoingBytesMax, 1028);
});

test('an idle link is closed on both ends', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer({ limits: { idleTimeoutMs: 200 } });
  const connection = await client(server.listener.port);
  await eventually(() => server.accepted.length === 1, 'the connection');
  await closedWith('WIRE_IDLE')(server.accepted[0] as Connection<TestMsg>);
  assert.deepEqual(await take(connection, 1).catch(() => []), [], 'the client iterator ends');
  assert.equal(await connection.closed, null, 'the client sees the peer close');
});

test('sending an invalid message throws and leaves the link open', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const connection = await client(server.listener.port);
  assert.throws(() => connection.send({ type: 'ping', n: -5 }), (err) => isWireError(err, 'WIRE_INVALID'));
  await assertEchoes(connection);
});

test('closing a listener closes its connections cleanly', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer();
  const connection = await client(server.listener.port);
  await assertEchoes(connection);
  await server.listener.close();
  assert.equal(await connection.closed, null);
  await assert.rejects(client(server.listener.port), (err) => isWireError(err, 'WIRE_SOCKET'));
});

test('the transport accepts a pino logger', { timeout: TEST_TIMEOUT_MS }, async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const listener = await listen({
    host: HOST,
    port: 0,
    secret: SECRET,
    name: 'srv',
    schema: testSchema,
    logger: pino({ level: 'warn' }, sink),
    onConnection: () => {},
  });
  servers.push(listener);
  await assert.rejects(client(listener.port, 'x', OTHER_SECRET));
  await eventually(() => lines.length > 0, 'a log line');
  const entry = JSON.parse(lines[0] as string) as { level: number; code: string; msg: string };
  assert.equal(entry.code, 'WIRE_HANDSHAKE');
  assert.equal(entry.level, 40, 'logged as a warning');
});
