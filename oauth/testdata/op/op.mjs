// Starts two OpenID Connect providers (panva's oidc-provider, unchanged) on
// 127.0.0.1 for Chatr's sign-in tests and prints their issuers as one JSON
// line: {"a":"http://127.0.0.1:P1","b":"http://127.0.0.1:P2"}.
//
// Both sign with the same key, so a token from b verifies against a's keys
// and only its issuer gives it away (the mix-up test). Accounts sign in
// without a form: the login interaction takes login_hint, or "alice", and
// consent is granted. The account "shortlived" gets identity tokens that
// expire after one second.
// The process exits when its standard input closes.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const callbackNames = (process.env.OP_CALLBACK_NAMES || 'op,mixup,swap').split(',');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

const clients = [
  {
    // Chatr. A "native" client may use any loopback port (RFC 8252), which
    // lets the tests run Chatr on port 0.
    client_id: 'chatr',
    client_secret: 'chatr-secret',
    application_type: 'native',
    redirect_uris: callbackNames.map((n) => `http://127.0.0.1/.auth/login/${n}/callback`),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    // Another application of the same provider: its tokens must not sign
    // anyone in to Chatr.
    client_id: 'other',
    client_secret: 'other-secret',
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/cb'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];

// Group memberships for the required-claim tests: an array, a single
// string, or none.
const groups = { alice: ['chatr', 'staff'], carol: 'chatr', bob: ['staff'] };

function account(id) {
  return {
    accountId: id,
    claims: () => ({
      sub: id,
      preferred_username: id,
      name: id.charAt(0).toUpperCase() + id.slice(1),
      email: `${id}@example.test`,
      email_verified: true,
      ...(groups[id] ? { groups: groups[id] } : {}),
    }),
  };
}

async function start() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'groups'],
      email: ['email', 'email_verified'],
    },
    findAccount: (ctx, id) => account(id),
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: consent is implied (the documented recipe).
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    ttl: {
      IdToken: (ctx, token) => (token?.available?.sub === 'shortlived' ? 1 : 3600),
      AccessToken: 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    pkce: { required: () => true },
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === 'consent') {
          // Native clients are always asked for consent: grant it.
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          grant.addOIDCScope('openid profile email');
          result = { consent: { grantId: await grant.save() } };
        } else {
          result = { login: { accountId: details.params.login_hint || 'alice' } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      } catch (err) {
        res.statusCode = 400;
        res.end(String(err));
      }
      return;
    }
    callback(req, res);
  });
  return issuer;
}

const [a, b] = await Promise.all([start(), start()]);
process.stdout.write(JSON.stringify({ a, b }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
