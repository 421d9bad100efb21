// A real OpenID provider for mailgate's tests (oidc-provider, run with the system Node.js).
//
// Usage: node server.mjs CONFIG.json
// CONFIG: { issuer, port, cert, key, clients: [...], jwks: {keys: [...]}, resource,
//           access_token_ttl }
// Listens on 127.0.0.1 over TLS only, prints "listening" once ready. Logins go through the
// library's development interactions (a login form taking any password, then a consent
// form), which a Playwright test or a scripted HTTP client can fill. PKCE (S256) is
// required, revocation and introspection are on, and access tokens for the mail resource
// are JWTs (typ "JWT", so Dovecot 2.3's local validation accepts them).
import fs from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const resource = config.resource;
const scopes = 'openid email offline_access';

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: [config.cookie_key] },
  pkce: { required: () => true, methods: ['S256'] },
  scopes: ['openid', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true };
      },
    };
  },
  // The test client is a confidential web client: refresh tokens whenever it may use them.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // One consent per account and client, given at the first login.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    return undefined;
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new Error('unknown resource');
        }
        return {
          scope: scopes,
          audience: resource,
          accessTokenTTL: config.access_token_ttl || 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  formats: {
    customizers: {
      async jwt(ctx, token, jwt) {
        jwt.header = { typ: 'JWT' };
        jwt.payload.email = jwt.payload.sub;
      },
    },
  },
  ttl: {
    AccessToken: config.access_token_ttl || 600,
    RefreshToken: 3600,
    Session: 3600,
    Interaction: 600,
    Grant: 3600,
    AuthorizationCode: 60,
    IdToken: 600,
  },
  renderError(ctx, out) {
    ctx.type = 'text/plain';
    ctx.body = `${out.error}: ${out.error_description}`;
  },
});
provider.proxy = false;

// What the tests look at: revoked refresh tokens (logout revokes), the grants used (a
// refresh shows as "refresh_token"), and a switch that makes the token endpoint refuse
// everything (a provider that ended the user's grant).
const revoked = [];
const grants = [];
let refuseTokens = false;
provider.on('refresh_token.destroyed', (token) => revoked.push(token.accountId));
provider.on('grant.success', (ctx) => grants.push(ctx.oidc.params.grant_type));
// The library's built-in pages load a web font from Google: tests stay on 127.0.0.1.
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.body.includes('fonts.googleapis.com')) {
    ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/g, '');
  }
});
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/revoked') {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ revoked, grants });
    return;
  }
  if (ctx.path === '/test/refuse-tokens') {
    refuseTokens = true;
    ctx.body = 'ok';
    return;
  }
  if (refuseTokens && ctx.path === '/token') {
    ctx.status = 400;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ error: 'invalid_grant' });
    return;
  }
  await next();
});

const server = https.createServer(
  { cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) },
  provider.callback(),
);
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write('listening\n');
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
