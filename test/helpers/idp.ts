import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';

type PrivateKey = Parameters<SignJWT['sign']>[0];

/**
 * A token issuer for tests: real keys, a real JWKS served over HTTP on loopback, and
 * a counter of JWKS fetches so tests can see network behaviour.
 */
export class TestIssuer {
  readonly keys = new Map<string, { alg: string; privateKey: PrivateKey; jwk: JWK }>();
  server: Server | undefined;
  url = '';
  jwksFetches = 0;
  /** Milliseconds the JWKS endpoint waits before answering (deadline tests). */
  delayMs = 0;
  /** HTTP status the JWKS endpoint answers with; anything but 200 simulates an outage. */
  status = 200;

  static async start(algs: string[] = ['RS256', 'ES256']): Promise<TestIssuer> {
    const issuer = new TestIssuer();
    for (const alg of algs) await issuer.addKey(`${alg.toLowerCase()}-1`, alg);
    issuer.server = createServer((req, res) => {
      if (req.url !== '/jwks') {
        res.writeHead(404).end();
        return;
      }
      issuer.jwksFetches++;
      if (issuer.status !== 200) {
        setTimeout(() => res.writeHead(issuer.status, { 'content-type': 'text/plain' }).end('unavailable'), issuer.delayMs);
        return;
      }
      const body = JSON.stringify({ keys: [...issuer.keys.values()].map((k) => k.jwk) });
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), issuer.delayMs);
    });
    await new Promise<void>((r) => issuer.server!.listen(0, '127.0.0.1', r));
    issuer.url = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`;
    return issuer;
  }

  async addKey(kid: string, alg: string): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    this.keys.set(kid, { alg, privateKey, jwk });
  }

  get issuer(): string {
    return this.url;
  }

  get jwksUri(): string {
    return `${this.url}/jwks`;
  }

  /** Signs claims with a key of this issuer; defaults give a valid token for audience `verdict`. */
  async token(claims: JWTPayload = {}, opts: { kid?: string; expiresIn?: string | number; header?: Record<string, unknown> } = {}): Promise<string> {
    const kid = opts.kid ?? [...this.keys.keys()][0]!;
    const key = this.keys.get(kid);
    if (!key) throw new Error(`no key ${kid}`);
    const jwt = new SignJWT({ sub: 'alice', email: 'alice@example.com', email_verified: true, groups: ['sre'], ...claims })
      .setProtectedHeader({ alg: key.alg, kid, typ: 'JWT', ...opts.header })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : this.issuer)
      .setAudience((claims.aud as string | string[] | undefined) ?? 'verdict')
      .setIssuedAt();
    if (opts.expiresIn !== undefined || claims.exp === undefined) jwt.setExpirationTime(opts.expiresIn ?? '5m');
    return jwt.sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
