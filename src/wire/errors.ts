// Operating errors of the internal wire protocol. Each has a stable code that logs and tests match
// on; the message names the problem and the hint names the fix.
//
// | code               | when                                                                 |
// |--------------------|----------------------------------------------------------------------|
// | WIRE_TOO_LARGE     | a frame's length header (in or out) exceeds the frame bound          |
// | WIRE_BAD_FRAME     | a frame's payload is not one MessagePack envelope {v, seq, msg}      |
// | WIRE_VERSION       | the peer speaks another protocol version (both are named)            |
// | WIRE_INVALID       | the message fails the caller's schema (the zod issues are listed)    |
// | WIRE_REPLAY        | a frame's seq is not the next one: replayed, reordered or lost       |
// | WIRE_SEND_OVERFLOW | the peer reads too slowly: our outgoing buffer passed its bound      |
// | WIRE_HANDSHAKE     | the TLS-PSK handshake failed: wrong or no secret, not TLS, timeout   |
// | WIRE_PEER_REFUSED  | the peer's name is malformed or not accepted by this listener        |
// | WIRE_IDLE          | no byte arrived within the idle timeout                              |
// | WIRE_SOCKET        | the TCP connection failed or was reset                               |
//
// These do not extend CodeArenaError because its code union is closed (src/common/errors.ts);
// they keep its shape (code, message, hint, oneLine) so the CLI can print them the same way.

export type WireErrorCode =
  | 'WIRE_TOO_LARGE'
  | 'WIRE_BAD_FRAME'
  | 'WIRE_VERSION'
  | 'WIRE_INVALID'
  | 'WIRE_REPLAY'
  | 'WIRE_SEND_OVERFLOW'
  | 'WIRE_HANDSHAKE'
  | 'WIRE_PEER_REFUSED'
  | 'WIRE_IDLE'
  | 'WIRE_SOCKET';

export class WireError extends Error {
  readonly code: WireErrorCode;
  readonly hint: string;

  constructor(code: WireErrorCode, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WireError';
    this.code = code;
    this.hint = hint;
  }

  /** One line for a log or a terminal: the problem, then the fix. */
  oneLine(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

export function isWireError(err: unknown, code?: WireErrorCode): err is WireError {
  return err instanceof WireError && (code === undefined || err.code === code);
}
