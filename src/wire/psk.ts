import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';

// The cluster secret never travels: both ends derive the same TLS pre-shared key from it, and the
// handshake's Finished messages prove each side holds it. A peer without the secret learns nothing
// but the identity it sent.

/** Shortest cluster secret accepted: 32 characters of base64url is 192 bits, past brute force. */
export const SECRET_CHARS_MIN = 32;

/** 32 bytes: the key size of PSK-AES256-GCM-SHA384 and of CHACHA20-POLY1305. */
export const PSK_BYTES = 32;

/** Versioned so a future change of the derivation cannot silently interoperate with this one. */
const PSK_HKDF_SALT = 'codearena cluster';
const PSK_HKDF_INFO = 'codearena wire psk v1';

/**
 * Node names travel as the PSK identity (in clear, but covered by the handshake's MAC). A
 * hostname-like shape keeps them printable in logs and well under OpenSSL's 128-byte identity cap.
 */
export const PEER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * TLS 1.2 only: Node 20's TLS 1.3 refuses a PSK handshake without a certificate
 * (ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM, tested). ECDHE-PSK first for forward secrecy (a
 * secret leaked later does not open recorded traffic); the plain PSK suites are the fallback.
 */
export const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256';
export const PSK_TLS_VERSION = 'TLSv1.2';

export function derivePsk(secret: string): Buffer {
  assert.ok(secret.length >= SECRET_CHARS_MIN, `cluster secret must have at least ${SECRET_CHARS_MIN} characters`);
  return Buffer.from(hkdfSync('sha256', secret, PSK_HKDF_SALT, PSK_HKDF_INFO, PSK_BYTES));
}

export function isPeerName(name: string): boolean {
  return PEER_NAME_PATTERN.test(name);
}

const RESUME_HKDF_INFO = 'codearena resume token v1';

/**
 * The key resume tokens are made with (HMAC-SHA256 of the run id): derived from the cluster secret,
 * so any Gateway of the lab — the standby after a failover too — can check a token it never issued.
 */
export function deriveResumeKey(secret: string): Buffer {
  assert.ok(secret.length >= SECRET_CHARS_MIN, `cluster secret must have at least ${SECRET_CHARS_MIN} characters`);
  return Buffer.from(hkdfSync('sha256', secret, PSK_HKDF_SALT, RESUME_HKDF_INFO, PSK_BYTES));
}
