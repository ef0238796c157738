import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Token prefixes say what a secret is when one turns up where it should not (a log, a ticket). */
const API_TOKEN_PREFIX = 'swt_';
const BOOTSTRAP_PREFIX = 'swb_';

/** A new random API token. Only its hash is stored. */
export function newApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The bootstrap credential of a launch intent: derived from the server secret and the intent id, so a retried launch
 * renders identical user data and stays idempotent at the cloud.
 */
export function bootstrapCredential(secret: Buffer, intentId: string): string {
  return `${BOOTSTRAP_PREFIX}${intentId}.${bootstrapMac(secret, intentId)}`;
}

/** The intent id a bootstrap credential names, when its MAC is right; undefined otherwise. */
export function verifyBootstrapCredential(secret: Buffer, credential: string): string | undefined {
  if (!credential.startsWith(BOOTSTRAP_PREFIX)) return undefined;
  const [intentId, mac] = credential.slice(BOOTSTRAP_PREFIX.length).split('.');
  if (!intentId || !mac) return undefined;
  const expected = Buffer.from(bootstrapMac(secret, intentId));
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected) ? intentId : undefined;
}

export function isBootstrapCredential(token: string): boolean {
  return token.startsWith(BOOTSTRAP_PREFIX);
}

function bootstrapMac(secret: Buffer, intentId: string): string {
  return createHmac('sha256', macKey(secret)).update(`bootstrap:${intentId}`).digest('base64url');
}

/** Key objects of the server secrets seen, by content: a few at most (one per store in this process). */
const macKeys = new Map<string, KeyObject>();
const MAC_KEYS_KEPT = 8;

/**
 * The secret as a key object, made once per secret: given raw bytes, every HMAC imported them into a new key object
 * first, most of the cost of a MAC (one per launch and one per registration). The same MAC either way.
 */
function macKey(secret: Buffer): KeyObject {
  const id = secret.toString('base64');
  let key = macKeys.get(id);
  if (key === undefined) {
    if (macKeys.size >= MAC_KEYS_KEPT) macKeys.clear();
    macKeys.set(id, (key = createSecretKey(secret)));
  }
  return key;
}

/** Replaces anything shaped like a Spillway secret in text meant for logs. */
export function redactSecrets(text: string): string {
  return text.replace(/\b(swt_|swb_)[A-Za-z0-9_\-.]+/g, '$1[redacted]');
}
