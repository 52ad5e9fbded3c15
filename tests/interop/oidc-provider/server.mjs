// A real OpenID Provider for zt's interop tests: panva/oidc-provider (OpenID Certified)
// with one confidential client, test users whose passwords are checked, a login form and
// a consent page of our own, JWT access tokens for one resource server, and
// RP-initiated logout.
//
//   node server.mjs --port 0 --client-id zt-app --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:8080/.zt/callback \
//     --post-logout-redirect-uri http://127.0.0.1:8080/ --audience zt-app
//
// Every flag can also come from the environment: --client-secret <-> OP_CLIENT_SECRET.
// Prints `READY <issuer>` on stdout once it listens; exits on SIGTERM/SIGINT or when
// its stdin closes (so a parent that dies takes it along). Test use only.

import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  'client-id': { type: 'string', default: 'zt-interop' },
  'client-secret': { type: 'string', default: 'zt-interop-secret' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  audience: { type: 'string', default: 'zt-interop' },
  resource: { type: 'string' },
  users: { type: 'string' },
  'access-token-ttl': { type: 'string', default: '600' },
  'id-token-alg': { type: 'string', default: 'RS256' },
  help: { type: 'boolean', default: false },
};

function envName(flag) {
  return `OP_${flag.toUpperCase().replaceAll('-', '_')}`;
}

function options() {
  const { values } = parseArgs({ options: OPTIONS, strict: true });
  for (const [flag, spec] of Object.entries(OPTIONS)) {
    const env = process.env[envName(flag)];
    const fromCli = process.argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
    if (env !== undefined && !fromCli) {
      values[flag] = spec.multiple ? env.split(',').filter(Boolean) : env;
    }
  }
  return values;
}

const opts = options();
if (opts.help) {
  process.stdout.write(
    'usage: node server.mjs [--flag value]...  (or OP_<FLAG> in the environment)\n'
    + Object.entries(OPTIONS).map(([f, s]) => `  --${f}${s.default !== undefined ? ` (default ${s.default})` : ''}${s.multiple ? ' (repeatable; env: comma-separated)' : ''}\n`).join(''),
  );
  process.exit(0);
}
if (!opts['redirect-uri']?.length) {
  process.stderr.write('oidc-provider: --redirect-uri (or OP_REDIRECT_URI) is required\n');
  process.exit(2);
}

// Test users. The passwords are checked (constant time); a wrong one is refused.
const USERS = opts.users ? JSON.parse(opts.users) : {
  alice: {
    password: 'alice-pw', email: 'alice@example.com', name: 'Alice Admin', groups: ['engineering', 'admins'],
  },
  bob: {
    password: 'bob-pw', email: 'bob@example.com', name: 'Bob Builder', groups: ['engineering'],
  },
};

function checkPassword(username, password) {
  const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
  const digest = (s) => crypto.createHash('sha256').update(String(s)).digest();
  const ok = crypto.timingSafeEqual(digest(user ? user.password : crypto.randomUUID()), digest(password));
  return ok && user ? username : undefined;
}

function account(sub) {
  const user = Object.hasOwn(USERS, sub) ? USERS[sub] : undefined;
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: user.email,
        email_verified: true,
        name: user.name,
        preferred_username: sub,
        groups: user.groups,
      };
    },
  };
}

function jwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return {
    ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`,
  };
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

// No external fonts or scripts: this network is closed and the pages must render alone.
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;margin:40px auto;max-width:420px;color:#222}
h1{font-size:1.4em}label{display:block;margin:12px 0 4px}input{width:100%;padding:6px;box-sizing:border-box}
button{margin-top:16px;padding:8px 16px;font-size:1em}.error{color:#b00020;font-weight:bold}
.op{color:#666;font-size:.85em;border-top:1px solid #ddd;margin-top:24px;padding-top:8px}</style>
</head><body>${body}<p class="op">zt interop OpenID Provider (oidc-provider) &middot; test use only</p></body></html>`;
}

function loginPage(uid, clientId, error, username = '') {
  return page('Sign in', `<h1>Sign in to continue to ${esc(clientId)}</h1>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" value="${esc(username)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" id="sign-in">Sign in</button>
</form>`);
}

function consentPage(uid, clientId, accountId, details) {
  const scopes = [...(details.missingOIDCScope || []),
    ...Object.values(details.missingResourceScopes || {}).flat()];
  return page('Authorize', `<h1>Authorize ${esc(clientId)}</h1>
<p>Signed in as <b id="account">${esc(accountId)}</b>. ${esc(clientId)} asks for:</p>
<ul id="scopes">${[...new Set(scopes)].map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit" id="continue" autofocus>Continue</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" id="cancel">Cancel</button></form>`);
}

function send(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

let provider;

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction uid mismatch');
  const { prompt, params, session } = details;
  const clientId = params.client_id;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(res, 200, loginPage(uid, clientId));
    if (prompt.name === 'consent') return send(res, 200, consentPage(uid, clientId, session?.accountId, prompt.details));
    return send(res, 400, page('Error', `<p class="error">unknown prompt ${esc(prompt.name)}</p>`));
  }
  if (req.method !== 'POST') return send(res, 405, page('Error', '<p class="error">method not allowed</p>'));
  const form = await readForm(req);
  if (action === 'login') {
    if (prompt.name !== 'login') return send(res, 400, page('Error', '<p class="error">not a login prompt</p>'));
    const username = form.get('username') || '';
    const accountId = checkPassword(username, form.get('password') || '');
    if (!accountId) {
      process.stderr.write(`oidc-provider: login refused for ${JSON.stringify(username)}\n`);
      return send(res, 401, loginPage(uid, clientId, 'Invalid username or password.', username));
    }
    process.stderr.write(`oidc-provider: ${accountId} signed in\n`);
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    if (prompt.name !== 'consent') return send(res, 400, page('Error', '<p class="error">not a consent prompt</p>'));
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 404, page('Error', '<p class="error">not found</p>'));
}

const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/.exec(req.url.split('?')[0]);
  if (match) {
    interaction(req, res, match[1], match[2]).catch((err) => {
      process.stderr.write(`oidc-provider: interaction error: ${err.stack || err}\n`);
      if (!res.headersSent) send(res, err.statusCode || 500, page('Error', `<p class="error">${esc(err.message)}</p>`));
    });
    return;
  }
  provider.callback()(req, res);
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(opts.port), opts.host, resolve);
});
const issuer = `http://${opts.host}:${server.address().port}`;
const resource = opts.resource || `${issuer}/resource`;
const ttl = Number(opts['access-token-ttl']);

provider = new Provider(issuer, {
  clients: [{
    client_id: opts['client-id'],
    client_secret: opts['client-secret'],
    client_name: opts['client-id'],
    redirect_uris: opts['redirect-uri'],
    post_logout_redirect_uris: opts['post-logout-redirect-uri'] || [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // zt's login (openidconnect/oauth2 crates) authenticates with HTTP Basic by default.
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: opts['id-token-alg'],
  }],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  findAccount: (_ctx, sub) => account(sub),
  responseTypes: ['code'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Put the scope's claims in the ID token as well as at userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: { AccessToken: ttl, IdToken: ttl },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource(ctx, form) {
        ctx.body = page('Sign out', `<h1>Do you want to sign out from ${esc(ctx.host)}?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout" id="logout-yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" id="logout-no">No, stay signed in</button>`);
      },
      postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>Sign-out Success</h1><p>You have been signed out.</p>');
      },
    },
    // Access tokens are JWTs for one resource server, so zt can verify them with the JWKS.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: 'openid email profile groups offline_access',
          audience: opts.audience,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const user = USERS[token.accountId];
    return user ? { email: user.email, email_verified: true, groups: user.groups } : undefined;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>oops! something went wrong</h1>${Object.entries(out).map(([k, v]) => `<p class="error">${esc(k)}: ${esc(v)}</p>`).join('')}`);
  },
});

for (const event of ['server_error', 'grant.error', 'authorization.error', 'end_session.error', 'userinfo.error', 'introspection.error']) {
  provider.on(event, (_ctx, err) => process.stderr.write(`oidc-provider: ${event}: ${err?.message}${err?.error_description ? ` (${err.error_description})` : ''}\n`));
}
provider.on('grant.success', (ctx) => process.stderr.write(`oidc-provider: token issued to ${ctx.oidc.client?.clientId}\n`));
provider.on('end_session.success', () => process.stderr.write('oidc-provider: end_session success\n'));

function shutdown(code) {
  server.close();
  server.closeAllConnections?.();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
process.stdin.on('end', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();

process.stdout.write(`READY ${issuer}\n`);
