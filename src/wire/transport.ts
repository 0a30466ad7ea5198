import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { MessageSchema } from './codec.js';
import { Connection, resolveLimits, type WireLimits, type WireLogger } from './connection.js';
import { WireError } from './errors.js';
import { derivePsk, isPeerName, PSK_CIPHERS, PSK_TLS_VERSION } from './psk.js';

// TLS-PSK over TCP. The drivers here only open sockets and hand them to Connection; everything a
// peer can get wrong after the handshake is judged there.

export interface Rejection {
  remoteAddress: string;
  error: WireError;
}

export interface ListenOptions<T> {
  host: string;
  /** 0 picks a free port; read it back from Listener.port. */
  port: number;
  secret: string;
  /** This node's name, sent as the PSK identity hint so clients know whom they reached. */
  name: string;
  schema: MessageSchema<T>;
  logger: WireLogger;
  onConnection: (connection: Connection<T>) => void;
  /** Told of every peer refused before a connection existed (wrong secret, not TLS, timeout). */
  onRejected?: (rejection: Rejection) => void;
  /** Extra gate on the peer's claimed name, e.g. "is it in the lab config"; default: any valid name. */
  acceptPeer?: (peerName: string) => boolean;
  limits?: Partial<WireLimits>;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting, closes every connection it made, resolves when all are gone. */
  close(): Promise<void>;
}

export interface ConnectOptions<T> {
  host: string;
  port: number;
  secret: string;
  /** This node's name, sent as the PSK identity. */
  name: string;
  schema: MessageSchema<T>;
  logger: WireLogger;
  /** Refuse the server unless it names itself so: catches a wrong address in the config. */
  expectedPeerName?: string;
  limits?: Partial<WireLimits>;
}

/** Starts a TLS-PSK listener. Rejects with WireError (WIRE_SOCKET) if the port cannot be bound. */
export async function listen<T>(options: ListenOptions<T>): Promise<Listener> {
  if (!isPeerName(options.name)) throw refusedName(options.name);
  return new PskListener(options, resolveLimits(options.limits)).start();
}

class PskListener<T> implements Listener {
  readonly host: string;
  port = 0;
  private readonly server: tls.Server;
  private readonly connections = new Set<Connection<T>>();
  /** Every TCP socket, handshakes included, so close() can cut the ones that never finished. */
  private readonly rawSockets = new Set<Socket>();
  private readonly peerNames = new WeakMap<tls.TLSSocket, string>();
  private readonly refusedNames = new WeakMap<tls.TLSSocket, string>();

  constructor(
    private readonly options: ListenOptions<T>,
    private readonly limits: WireLimits,
  ) {
    this.host = options.host;
    this.server = this.createServer(derivePsk(options.secret));
    this.server.maxConnections = limits.connectionsMax;
    this.server.on('connection', (raw: Socket) => {
      this.rawSockets.add(raw);
      raw.once('close', () => this.rawSockets.delete(raw));
    });
    this.server.on('drop', (data) => {
      const remote = `${data?.remoteAddress}:${data?.remotePort}`;
      options.logger.warn({ remote, connectionsMax: limits.connectionsMax }, 'wire: connection dropped: listener full');
    });
    this.server.on('tlsClientError', (err, socket) => this.onHandshakeFailure(err, socket));
    this.server.on('secureConnection', (socket: tls.TLSSocket) => this.onSecureConnection(socket));
  }

  start(): Promise<this> {
    const { host, port } = this.options;
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) => reject(socketFailure(`listen on ${host}:${port}`, err)));
      this.server.listen(port, host, () => {
        const address = this.server.address();
        this.port = typeof address === 'object' && address !== null ? address.port : port;
        // Past start-up a server error must be logged, not crash the node as an unhandled event.
        this.server.on('error', (err) => this.options.logger.warn({ err, host, port: this.port }, 'wire: listener error'));
        resolve(this);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const connection of this.connections) connection.close();
      // Sockets still in their handshake have no Connection to close them; closed connections'
      // sockets are gone by then, so whatever remains after the grace period is cut.
      setTimeout(() => {
        for (const raw of this.rawSockets) raw.destroy();
      }, this.limits.closeGraceMs).unref();
    });
  }

  private createServer(psk: Buffer): tls.Server {
    const acceptPeer = this.options.acceptPeer ?? (() => true);
    return tls.createServer({
      ciphers: PSK_CIPHERS,
      minVersion: PSK_TLS_VERSION,
      maxVersion: PSK_TLS_VERSION,
      pskIdentityHint: this.options.name,
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      pskCallback: (socket, identity) => {
        // null fails the handshake: a malformed or unwanted name never reaches the application.
        if (!isPeerName(identity) || !acceptPeer(identity)) {
          this.refusedNames.set(socket, identity);
          return null;
        }
        this.peerNames.set(socket, identity);
        return psk;
      },
    });
  }

  private onHandshakeFailure(err: Error, socket: tls.TLSSocket): void {
    const remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const refused = this.refusedNames.get(socket);
    const error = refused === undefined ? handshakeError(remoteAddress, err) : refusedName(refused);
    this.options.logger.warn({ remote: remoteAddress, code: error.code }, `wire: ${error.oneLine()}`);
    this.options.onRejected?.({ remoteAddress, error });
    socket.destroy();
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    const peerName = this.peerNames.get(socket);
    if (peerName === undefined) return void socket.destroy(); // pskCallback always runs first
    const { schema, logger } = this.options;
    const connection = new Connection({ socket, peerName, schema, limits: this.limits, logger });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
    this.options.onConnection(connection);
  }
}

/** Connects and completes the handshake. Rejects with WireError: WIRE_HANDSHAKE, WIRE_SOCKET or WIRE_PEER_REFUSED. */
export async function connect<T>(options: ConnectOptions<T>): Promise<Connection<T>> {
  if (!isPeerName(options.name)) throw refusedName(options.name);
  const limits = resolveLimits(options.limits);
  const psk = derivePsk(options.secret);
  const target = `${options.host}:${options.port}`;
  let serverName: string | null = null;

  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      ciphers: PSK_CIPHERS,
      minVersion: PSK_TLS_VERSION,
      maxVersion: PSK_TLS_VERSION,
      // There is no certificate: the PSK handshake itself proves the server holds the secret.
      checkServerIdentity: () => undefined,
      pskCallback(hint) {
        if (options.expectedPeerName !== undefined && hint !== options.expectedPeerName) return null;
        serverName = hint !== null && isPeerName(hint) ? hint : null;
        return { psk, identity: options.name };
      },
    });
    const timeoutMs = limits.handshakeTimeoutMs;
    const timer = setTimeout(() => socket.destroy(handshakeTimeout(target, timeoutMs)), timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err instanceof WireError ? err : connectError(target, options.expectedPeerName, serverName, err));
    };
    socket.on('error', onError); // on, not once: a second error with no listener would crash the node
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      const peerName = serverName ?? target;
      resolve(new Connection({ socket, peerName, schema: options.schema, limits, logger: options.logger }));
    });
  });
}

function handshakeError(remoteAddress: string, err: Error): WireError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new WireError(
    'WIRE_HANDSHAKE',
    `TLS-PSK handshake with ${remoteAddress} failed (${code})`,
    'the peer has no cluster secret or a different one, or does not speak TLS-PSK',
    { cause: err },
  );
}

function handshakeTimeout(target: string, handshakeTimeoutMs: number): WireError {
  return new WireError(
    'WIRE_HANDSHAKE',
    `no TLS-PSK handshake with ${target} within ${handshakeTimeoutMs} ms`,
    'check that the address and port are a CodeArena node and that the network lets them through',
  );
}

function connectError(target: string, expected: string | undefined, serverName: string | null, err: Error): WireError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('ERR_SSL') || code === 'ECONNRESET') {
    const wrongPeer = expected !== undefined && serverName === null;
    return new WireError(
      'WIRE_HANDSHAKE',
      `TLS-PSK handshake with ${target} failed (${code})`,
      wrongPeer
        ? `the node there is not "${expected}": check the addresses in the lab config`
        : 'check that both nodes use the same cluster secret (and that this node is in its lab config)',
      { cause: err },
    );
  }
  return socketFailure(`connect to ${target}`, err);
}

function socketFailure(what: string, err: Error): WireError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new WireError('WIRE_SOCKET', `${what} failed: ${code}`, 'check the address, the port and that the node runs', {
    cause: err,
  });
}

function refusedName(name: string): WireError {
  return new WireError(
    'WIRE_PEER_REFUSED',
    `peer name ${JSON.stringify(name.slice(0, 80))} refused`,
    'node names are 1-63 letters, digits, ".", "_" or "-", and must be accepted by the listener',
  );
}
