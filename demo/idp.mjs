// A demo OpenID Provider for `docker compose up` (the oidc-provider package): two users,
// development login pages. For trying Verdict out only: it accepts any password.
// Also started by `npm run demo` (scripts/demo.ts) with PORT=0 and ISSUER_HOST=127.0.0.1:
// the issuer is then known only once the port is bound, so the provider is built after listen.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

let handler = (_req, res) => res.writeHead(503).end();
const server = createServer((req, res) => handler(req, res));
await new Promise((r) => server.listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '0.0.0.0', r));
const port = server.address().port;
const issuer = process.env.ISSUER ?? `http://${process.env.ISSUER_HOST ?? 'idp.localhost'}:${port}`;
const users = {
  alice: { email: 'alice@example.com', groups: ['sre'] },
  bob: { email: 'bob@example.com', groups: ['dev'] },
};
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'verdict',
      client_secret: process.env.CLIENT_SECRET ?? 'demo-only-secret',
      redirect_uris: (process.env.REDIRECT_URIS ?? 'http://app.localhost:8080/.verdict/callback').split(','),
      post_logout_redirect_uris: (process.env.POST_LOGOUT_URIS ?? 'http://app.localhost:8080/').split(','),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  scopes: ['openid', 'email', 'groups', 'offline_access'],
  conformIdTokenClaims: false,
  issueRefreshToken: async () => true,
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  findAccount: async (_ctx, id) =>
    users[id] && { accountId: id, claims: async () => ({ sub: id, email: users[id].email, email_verified: true, groups: users[id].groups }) },
});
handler = provider.callback();
console.log(`demo IdP at ${issuer} (users: alice, bob; any password)`);
