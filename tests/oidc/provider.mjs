// A real OpenID Connect provider on loopback for the tests: npm's `oidc-provider`, configured
// the way a council's identity provider would be for Signpost. Started by tests/oidc/conftest.py.
//
// Configuration comes from the environment (the fixture generates the secrets per run):
//   OIDC_PORT            port to listen on (127.0.0.1 only); the issuer is http://127.0.0.1:PORT
//   OIDC_PARTNER_SECRET  client secret of the partner clients (`police`, `schools`)
//   OIDC_WEB_SECRET      client secret of Signpost's web clients (authorization code)
//   OIDC_REDIRECT_URI    redirect URI registered for Signpost's web clients
//
// What it offers:
// - partners `police` and `schools` get JWT access tokens by client_credentials; the token's
//   `sub` is the client id (the partner source) and `groups` is ["signpost-partners"].
// - resources (RFC 8707 `resource` parameter) choose how the access token is made:
//     https://signpost.test/api          aud signpost-api, RS256
//     https://signpost.test/api/es256    aud signpost-api, ES256
//     https://signpost.test/api/hs256    aud signpost-api, HS256 (a verifier must refuse it)
//     https://signpost.test/api/short    aud signpost-api, RS256, valid for one second
//     https://other.test/api             aud other-api, RS256 (wrong audience for Signpost)
// - `signpost-web` (RS256 ID tokens) and `signpost-web-es256` (ES256 ID tokens) sign people
//   in by authorization code through the development login and consent pages (any password):
//   accounts `caseworker-1` (staff id cw-001, group signpost-caseworkers), `analyst-1`
//   (staff id an-001, group signpost-analysts) and `citizen-1` (council reference P000001).
// - RS256 and ES256 signing keys are generated at start and published at /jwks.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const partnerSecret = process.env.OIDC_PARTNER_SECRET;
const webSecret = process.env.OIDC_WEB_SECRET;
const redirectUri = process.env.OIDC_REDIRECT_URI;
if (!port || !partnerSecret || !webSecret || !redirectUri) {
  console.error('set OIDC_PORT, OIDC_PARTNER_SECRET, OIDC_WEB_SECRET and OIDC_REDIRECT_URI');
  process.exit(2);
}

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

const accounts = {
  'caseworker-1': { staff_id: 'cw-001', groups: ['signpost-caseworkers', 'all-staff'] },
  'analyst-1': { staff_id: 'an-001', groups: ['signpost-analysts', 'all-staff'] },
  'citizen-1': { council_reference: 'P000001', groups: ['signpost-citizens'] },
};

const API = { scope: 'events:write', audience: 'signpost-api', accessTokenFormat: 'jwt', accessTokenTTL: 600 };
const resources = {
  'https://signpost.test/api': { ...API, jwt: { sign: { alg: 'RS256' } } },
  'https://signpost.test/api/es256': { ...API, jwt: { sign: { alg: 'ES256' } } },
  'https://signpost.test/api/hs256': { ...API, jwt: { sign: { alg: 'HS256', key: randomBytes(32) } } },
  'https://signpost.test/api/short': { ...API, accessTokenTTL: 1, jwt: { sign: { alg: 'RS256' } } },
  'https://other.test/api': { ...API, audience: 'other-api', jwt: { sign: { alg: 'RS256' } } },
};

// Access tokens live as long as their resource says (the short-lived one for one second).
const resourceTTL = (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600;

const partner = (id) => ({
  client_id: id,
  client_secret: partnerSecret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
});
const web = (id, alg) => ({
  client_id: id,
  client_secret: webSecret,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [redirectUri],
  id_token_signed_response_alg: alg,
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [partner('police'), partner('schools'), web('signpost-web', 'RS256'), web('signpost-web-es256', 'ES256')],
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], signpost: ['staff_id', 'groups', 'council_reference'] },
  scopes: ['openid', 'signpost'],
  // Signpost reads its claims from the ID token, as a council's provider would send them.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'https://signpost.test/api',
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, indicator) => {
        const info = resources[indicator];
        if (!info) throw new Provider.errors.InvalidTarget();
        return info;
      },
    },
  },
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'ClientCredentials') return { groups: ['signpost-partners'] };
    return undefined;
  },
  pkce: { required: () => false },
  ttl: { AccessToken: resourceTTL, ClientCredentials: resourceTTL, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening at ${issuer}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
