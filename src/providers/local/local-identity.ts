import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IdentityVerifier } from '../identity.ts';
import { InstanceDocumentVerifier } from '../instance-document.ts';

/** The account every local instance's identity document names. */
export const LOCAL_ACCOUNT_ID = 'local';

/** A signed identity document, as EC2's metadata service serves one: the JSON text and its base64 signature. */
export interface SignedDocument {
  readonly document: string;
  readonly signature: string;
}

/**
 * The local cloud's attestor: an RSA key pair in `<stateDir>/identity-key.pem` (made on first use, mode 0600) that
 * signs each instance's identity document in EC2's format (account `local`, the provider's region), and the
 * verifier that checks them with its public half, by the same code as EC2's.
 */
export class LocalIdentity {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #region: string;

  constructor(stateDir: string, region: string) {
    this.#region = region;
    const path = join(stateDir, 'identity-key.pem');
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch {
      mkdirSync(stateDir, { recursive: true });
      pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
      writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
    }
    this.#privateKey = createPrivateKey(pem);
    this.#publicKey = createPublicKey(this.#privateKey);
  }

  /** The identity document of one instance, signed. */
  sign(instance: { instanceId: string; zone: string; instanceType: string; launchedAtMs: number }): SignedDocument {
    const document = JSON.stringify(
      {
        accountId: LOCAL_ACCOUNT_ID,
        availabilityZone: instance.zone,
        instanceId: instance.instanceId,
        instanceType: instance.instanceType,
        pendingTime: new Date(instance.launchedAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: this.#region,
        version: '2017-09-30',
      },
      null,
      2,
    );
    return { document, signature: sign('sha256', Buffer.from(document), this.#privateKey).toString('base64') };
  }

  verifier(): IdentityVerifier {
    return new InstanceDocumentVerifier({
      keys: [this.#publicKey],
      accountId: LOCAL_ACCOUNT_ID,
      region: this.#region,
      cloud: 'local',
    });
  }
}
