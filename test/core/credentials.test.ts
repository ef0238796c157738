import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'mocha';
import {
  bootstrapCredential,
  hashToken,
  isBootstrapCredential,
  newApiToken,
  redactSecrets,
  verifyBootstrapCredential,
} from '../../src/core/credentials.ts';

const SECRET = Buffer.from('a server secret of the test, 32 bytes long!!', 'utf8');
const OTHER_SECRET = Buffer.from('another server secret entirely, also long', 'utf8');

/** The MAC as the design states it: HMAC-SHA256 of `bootstrap:<intent id>` under the server secret, base64url. */
function macOf(secret: Buffer, intentId: string): string {
  return createHmac('sha256', secret).update(`bootstrap:${intentId}`).digest('base64url');
}

describe('credentials', () => {
  describe('API tokens', () => {
    it('makes a swt_ token of 32 random bytes in base64url, different every time', () => {
      const a = newApiToken();
      const b = newApiToken();
      assert.match(a, /^swt_[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(a.slice(4), 'base64url').length, 32);
      assert.notEqual(a, b);
    });

    it('hashes a token with SHA-256 in hex (the FIPS 180-2 "abc" vector)', () => {
      assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      assert.equal(hashToken('swt_x'), createHash('sha256').update('swt_x').digest('hex'));
    });
  });

  describe('bootstrap credentials', () => {
    it('derives the same MAC from a secret this process has never seen, and from each of many secrets in turn', () => {
      // Fresh random secrets each run: the key objects the module keeps per secret are made here, not by an earlier
      // test (a key never made, or never kept, fails the MAC). Twenty secrets, more than the module keeps, twice over.
      const secrets = Array.from({ length: 20 }, () => randomBytes(32));
      for (let round = 0; round < 2; round++) {
        for (const [i, secret] of secrets.entries()) {
          const credential = bootstrapCredential(secret, `intent-${i}`);
          assert.equal(credential, `swb_intent-${i}.${macOf(secret, `intent-${i}`)}`);
          assert.equal(verifyBootstrapCredential(secret, credential), `intent-${i}`);
        }
      }
    });

    it('derives swb_<intent id>.<HMAC-SHA256 of bootstrap:<intent id>>, the same for a retried launch', () => {
      const want = `swb_intent-7.${macOf(SECRET, 'intent-7')}`;
      assert.equal(bootstrapCredential(SECRET, 'intent-7'), want);
      assert.equal(bootstrapCredential(SECRET, 'intent-7'), want);
      assert.notEqual(bootstrapCredential(OTHER_SECRET, 'intent-7'), want);
      assert.notEqual(bootstrapCredential(SECRET, 'intent-8'), want);
    });

    it('verifies a credential it derived and names its intent', () => {
      assert.equal(verifyBootstrapCredential(SECRET, bootstrapCredential(SECRET, 'intent-7')), 'intent-7');
      assert.equal(verifyBootstrapCredential(SECRET, `swb_i-1.${macOf(SECRET, 'i-1')}`), 'i-1');
    });

    const mac = macOf(SECRET, 'intent-7');
    const refused = [
      { name: 'another secret', credential: `swb_intent-7.${macOf(OTHER_SECRET, 'intent-7')}` },
      { name: 'another intent with this MAC', credential: `swb_intent-8.${mac}` },
      {
        name: 'one MAC character changed',
        credential: `swb_intent-7.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`,
      },
      { name: 'a truncated MAC', credential: `swb_intent-7.${mac.slice(0, -1)}` },
      { name: 'a MAC with a character more', credential: `swb_intent-7.${mac}A` },
      { name: 'no MAC', credential: 'swb_intent-7.' },
      { name: 'no dot', credential: 'swb_intent-7' },
      { name: 'no intent id', credential: `swb_.${mac}` },
      { name: 'no intent id and the MAC of an empty id', credential: `swb_.${macOf(SECRET, '')}` },
      { name: 'an API token prefix', credential: `swt_intent-7.${mac}` },
      { name: 'no prefix', credential: `intent-7.${mac}` },
      { name: 'the prefix later in the string', credential: `xswb_intent-7.${mac}` },
      { name: 'nothing', credential: '' },
    ];
    for (const c of refused) {
      it(`refuses a credential with ${c.name}`, () => {
        assert.equal(verifyBootstrapCredential(SECRET, c.credential), undefined);
      });
    }

    it('tells bootstrap credentials from API tokens by their prefix only', () => {
      assert.equal(isBootstrapCredential(bootstrapCredential(SECRET, 'intent-7')), true);
      assert.equal(isBootstrapCredential('swb_anything'), true);
      assert.equal(isBootstrapCredential(newApiToken()), false);
      assert.equal(isBootstrapCredential('xswb_intent-7.abc'), false);
      assert.equal(isBootstrapCredential(''), false);
    });
  });

  describe('redaction', () => {
    const cases = [
      { name: 'an API token', text: 'Bearer swt_AbC-d_e9', want: 'Bearer swt_[redacted]' },
      {
        name: 'a bootstrap credential, dot included',
        text: 'cred=swb_intent-7.q_Z-9x end',
        want: 'cred=swb_[redacted] end',
      },
      {
        name: 'every secret in the text',
        text: 'swt_one and swt_two, swb_three.x',
        want: 'swt_[redacted] and swt_[redacted], swb_[redacted]',
      },
      { name: 'up to a character no token holds', text: 'swt_abc/def', want: 'swt_[redacted]/def' },
      { name: 'nothing inside a longer word', text: 'xswt_abc myswb_def', want: 'xswt_abc myswb_def' },
      { name: 'nothing without a prefix', text: 'token abc.def', want: 'token abc.def' },
    ];
    for (const c of cases) {
      it(`redacts ${c.name}`, () => {
        assert.equal(redactSecrets(c.text), c.want);
      });
    }
  });
});
