// A real OpenID Provider (the certified `oidc-provider` package) for the OIDC sign-in tests, run as
// its own process: `node oidc-provider.mjs` with its settings as JSON in OIDC_TEST_PROVIDER.
//
//   { "port": 9000,
//     "clients": [{ "client_id": "...", "client_secret": "...", "redirect_uris": ["..."] }],
//     "accounts": { "<login name>": { "email": "...", "email_verified": true, "name": "...", "groups": [...] } },
//     "clockOffsetSeconds": 0,          // the provider's clock runs this far off (skew)
//     "idTokenTtlSeconds": 3600,
//     "misissueAudience": { "<client_id>": "<other client_id>" } }  // ID tokens for the first carry the second's aud
//
// Login is plain HTTP: GET /interaction/:uid shows a form, POST /interaction/:uid/login with
// `login=<name>` signs that account in (no password: the accounts are the test's). Consent is given
// automatically, as for a first-party client. Prints "oidc provider listening on <issuer>".
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

const settings = JSON.parse(process.env.OIDC_TEST_PROVIDER ?? '{}');
const offsetMs = (settings.clockOffsetSeconds ?? 0) * 1000;
if (offsetMs !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
}
const { default: Provider, errors } = await import('oidc-provider');

const issuer = `http://127.0.0.1:${settings.port}`;
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const accounts = settings.accounts ?? {};

const provider = new Provider(issuer, {
  clients: settings.clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', ...c })),
  jwks: { keys: [{ ...signingKey, kid: 'test-signing-key', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: ['oidc-test-provider-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { IdToken: settings.idTokenTtlSeconds ?? 3600 },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, sub) => (accounts[sub] ? { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) } : undefined),
});

// A provider that issues a client's ID tokens for another audience: signed with its real key, so
// only the relying party's audience check can catch it.
const misissue = settings.misissueAudience ?? {};
const issue = provider.IdToken.prototype.issue;
provider.IdToken.prototype.issue = async function (...args) {
  const other = misissue[this.client?.clientId];
  if (other) this.client = await provider.Client.find(other);
  return issue.apply(this, args);
};

const callback = provider.callback();

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
  if (details.prompt.name === 'login') {
    if (action === 'login' && req.method === 'POST') {
      const login = (await readForm(req)).get('login') ?? '';
      if (!accounts[login]) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`no test account "${login}"`);
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<form method="post" action="/interaction/${uid}/login"><input name="login"><button>Sign in</button></form>`);
    return;
  }
  // consent: grant what the client asked for.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
  if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const server = createServer((req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login))?/.exec(req.url ?? '');
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((err) => {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`interaction failed: ${err.message}`);
  });
});
server.listen(settings.port, '127.0.0.1', () => console.log(`oidc provider listening on ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
