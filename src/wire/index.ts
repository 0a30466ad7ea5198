// The internal wire protocol: length-prefixed MessagePack frames over TLS-PSK.
// A node agent needs only listen/connect, Connection and the error codes.
export { createCodec, packEnvelope, PROTOCOL_VERSION, unpackEnvelope, type Codec, type Envelope, type CheckIssue, type MessageCheck, type MessageSchema, type WireForm } from './codec.js';
export { Connection, resolveLimits, WIRE_LIMITS_DEFAULT, type WireLimits, type WireLogger } from './connection.js';
export { isWireError, WireError, type WireErrorCode } from './errors.js';
export { encodeFrame, FRAME_BYTES_MAX_DEFAULT, FRAME_BYTES_MAX_LIMIT, FRAME_HEADER_BYTES, FrameDecoder } from './frame.js';
export { derivePsk, isPeerName, PEER_NAME_PATTERN, SECRET_CHARS_MIN } from './psk.js';
export { connect, listen, type ConnectOptions, type Listener, type ListenOptions, type Rejection } from './transport.js';
