// A demo OpenID Provider for `docker compose up` (the oidc-provider package): two users,
// development login pages. For trying Verdict out only: it accepts any password.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const issuer = process.env.ISSUER ?? 'http://idp.localhost:9000';
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
createServer(provider.callback()).listen(9000, '0.0.0.0', () => console.log(`demo IdP at ${issuer} (users: alice, bob; any password)`));
