// A real OpenID provider for cspr's tests: panva's oidc-provider (the certified OpenID
// Connect implementation for Node.js), issuing JWT access tokens for one resource (RFC 8707)
// with the client_credentials grant (an agency's system), each client's tokens carrying
// cspr's claims under the names the test gives (`groups`, a nested partnership...), as a
// real provider would; and to people, with the authorization code grant and PKCE (S256,
// required), signing in at the provider's own development login page (any login; the
// account's claims are the test's).
//
// The test starts it (cspr_platform::testing::OidcProvider) with:
//   OIDC_RESOURCE  the resource indicator, also the tokens' `aud`
//   OIDC_CLIENTS   JSON [{ "client_id", "client_secret", "claims": { ...extra claims },
//                          "redirect_uris"?: [...] }]: a client with redirect URIs signs
//                  people in (authorization code), one without is a system (client
//                  credentials)
//   OIDC_ACCOUNTS  JSON { "<login>": { ...claims of that person's access tokens } }
//   OIDC_ALG       the first signing key's algorithm: RS256, ES256 or EdDSA
// and reads one line of JSON on stdout once it listens on its free port:
//   { "issuer": "http://127.0.0.1:<port>", "port": <port>, "kids": [...] }
//
// An admin API on the same port lets the test do what a provider's operator would:
//   POST /admin/rotate?alg=ES256  a new key of that algorithm, first in the JWKS and
//                                 signing from now on; the others stay published
//   POST /admin/retire?kid=<kid>  the key no longer published (nor used)
//   POST /admin/sign              {"claims", "key": "current"|"stranger", "kid"?: string|null}
//                                 a JWT signed by the current key or by one never published,
//                                 with the given kid (null: none; default: the key's own)
//   GET  /admin/stats             {"jwks": n, "discovery": n}: how often each was fetched
// A rotation builds a new Provider over the new keys behind the same listener, so the
// port stays the same and nothing the test holds goes stale.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// stdout carries the one line the test reads, and the test stops reading after it: anything
// the provider logs later (its interactions do) goes to stderr, the test's log file.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});

const resource = process.env.OIDC_RESOURCE ?? 'urn:cspr:test';
const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]');
const claimsOf = new Map(clients.map((client) => [client.client_id, client.claims ?? {}]));
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS ?? '{}');

let keys = [];
let signingAlg = null;
let handler = null;
const stranger = new Map();
const stats = { jwks: 0, discovery: 0 };
let generation = 0;

function generateKey(alg) {
  generation += 1;
  const kid = `${alg.toLowerCase()}-${generation}-${crypto.randomBytes(4).toString('hex')}`;
  let pair;
  switch (alg) {
    case 'RS256':
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    case 'ES256':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EdDSA':
      pair = crypto.generateKeyPairSync('ed25519');
      break;
    default:
      throw new Error(`unsupported alg ${alg}`);
  }
  const jwk = { ...pair.privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
  // ES256 keys go out without `alg`: cspr must tell the algorithm from kty and crv.
  if (alg !== 'ES256') {
    jwk.alg = alg;
  }
  return { alg, kid, jwk, privateKey: pair.privateKey };
}

function build(issuer) {
  const provider = new Provider(issuer, {
    clients: clients.map(({ client_id, client_secret, redirect_uris }) => ({
      client_id,
      client_secret,
      grant_types: redirect_uris ? ['authorization_code'] : ['client_credentials'],
      redirect_uris: redirect_uris ?? [],
      response_types: redirect_uris ? ['code'] : [],
      token_endpoint_auth_method: 'client_secret_post',
      // Unused (no ID tokens here), but it must name a key the provider still has.
      id_token_signed_response_alg: signingAlg,
    })),
    jwks: { keys: keys.map((key) => key.jwk) },
    // Anyone may sign in at the development login page, as the login they type.
    findAccount: (_ctx, id) => (accounts[id] ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    // Every authorization code must come with its PKCE verifier, confidential client or not.
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: 'cspr',
            audience: resource,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signingAlg } },
          };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => (token.accountId ? accounts[token.accountId] : claimsOf.get(token.clientId)),
  });
  handler = provider.callback();
}

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function sign(claims, key, kid) {
  const header = { alg: key.alg, typ: 'at+jwt' };
  if (kid !== null) {
    header.kid = kid ?? key.kid;
  }
  const input = `${base64url(header)}.${base64url(claims)}`;
  const options = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey;
  const digest = key.alg === 'EdDSA' ? null : 'sha256';
  return `${input}.${crypto.sign(digest, Buffer.from(input), options).toString('base64url')}`;
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function admin(req, res, url, issuer) {
  const kids = () => keys.map((key) => key.kid);
  if (req.method === 'GET' && url.pathname === '/admin/stats') {
    return reply(res, 200, stats);
  }
  if (req.method === 'POST' && url.pathname === '/admin/rotate') {
    const key = generateKey(url.searchParams.get('alg') ?? 'RS256');
    keys = [key, ...keys];
    signingAlg = key.alg;
    build(issuer);
    return reply(res, 200, { kids: kids() });
  }
  if (req.method === 'POST' && url.pathname === '/admin/retire') {
    const kid = url.searchParams.get('kid');
    if (kid === keys[0].kid) {
      return reply(res, 400, { error: 'the signing key cannot be retired' });
    }
    keys = keys.filter((key) => key.kid !== kid);
    build(issuer);
    return reply(res, 200, { kids: kids() });
  }
  if (req.method === 'POST' && url.pathname === '/admin/sign') {
    let body = '';
    for await (const chunk of req) {
      body += chunk;
    }
    const request = JSON.parse(body);
    let key = keys[0];
    if (request.key === 'stranger') {
      if (!stranger.has(key.alg)) {
        stranger.set(key.alg, generateKey(key.alg));
      }
      key = stranger.get(key.alg);
    }
    return reply(res, 200, { token: sign(request.claims, key, request.kid) });
  }
  return reply(res, 404, { error: 'no such admin call' });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname.startsWith('/admin/')) {
    admin(req, res, url, server.issuer).catch((error) => reply(res, 500, { error: String(error) }));
    return;
  }
  if (url.pathname === '/jwks') {
    stats.jwks += 1;
  } else if (url.pathname === '/.well-known/openid-configuration') {
    stats.discovery += 1;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  server.issuer = `http://127.0.0.1:${port}`;
  const first = generateKey(process.env.OIDC_ALG ?? 'RS256');
  keys = [first];
  signingAlg = first.alg;
  build(server.issuer);
  process.stdout.write(`${JSON.stringify({ issuer: server.issuer, port, kids: [first.kid] })}\n`);
});

// The test's process may die without stopping us: end with our stdin (its pipe).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
