// A real OpenID provider (node-oidc-provider) for keiyaku's tests, on loopback only.
// Configuration comes from the environment (JSON in OIDC_CONFIG):
//   {"clients": [{client_id, client_secret, redirect_uris}], "accounts": {login: {password, email, name}}}
// Prints {"issuer": "http://127.0.0.1:PORT"} on stdout once it listens.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_CONFIG || '{}');
const accounts = config.accounts || {};

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

function loginPage(uid, message) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test IdP</title></head><body>
<h1>Test IdP sign-in</h1>${message ? `<p id="error">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Login</label><input id="login" name="login" autocomplete="off">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button></form></body></html>`;
}

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients || [],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: account.email,
            email_verified: true,
            name: account.name || id,
            preferred_username: id,
          };
        },
      };
    },
  });

  provider.use(async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params } = details;
    if (prompt.name === 'consent') {
      // The static client is first-party: consent is granted without asking.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      const grantId = await grant.save();
      const to = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      ctx.status = 303;
      ctx.redirect(to);
      return undefined;
    }
    if (ctx.method === 'POST' && match[2]) {
      const form = await readForm(ctx.req);
      const login = form.get('login') || '';
      const account = accounts[login];
      if (!account || account.password !== form.get('password')) {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, 'Invalid login or password.');
        return undefined;
      }
      const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(to);
      return undefined;
    }
    ctx.type = 'html';
    ctx.body = loginPage(details.uid, '');
    return undefined;
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
