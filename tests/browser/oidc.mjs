// A real OpenID Connect provider for the single-sign-on tests (the npm package oidc-provider),
// and a small "browser" that walks through a sign-in.
//
//   node oidc.mjs serve PORT REDIRECT_URI ROLES_JSON
//       Serves an issuer at http://127.0.0.1:PORT with one client (id "stadtkarte", secret
//       "geheim-fuer-tests", authorization code + PKCE, the given redirect URI) and one
//       account ("sso-person", e-mail sso@koblenz.example, the given roles in the claim
//       "roles"). The login step signs that account in at once (no form), so the test follows
//       only redirects; consent is granted for what the client asks. Prints "ready" when up.
//
//   node oidc.mjs drive START_URL
//       Follows redirects from START_URL across hosts, keeping cookies per host, and prints one
//       JSON line: the final URL, its status, and the cookies set on the first host.
import http from "node:http";
import Provider from "oidc-provider";

const [mode, ...args] = process.argv.slice(2);

if (mode === "serve") {
  const [port, redirectUri, rolesJson] = args;
  const issuer = `http://127.0.0.1:${port}`;
  const roles = JSON.parse(rolesJson || "[]");
  const provider = new Provider(issuer, {
    clients: [{
      client_id: "stadtkarte",
      client_secret: "geheim-fuer-tests",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email"], profile: ["name"], roles: ["roles"] },
    scopes: ["openid", "email", "profile", "roles"],
    features: { devInteractions: { enabled: false } },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: "sso@koblenz.example", name: "SSO Person", roles }),
    }),
    conformIdTokenClaims: false,
    cookies: { keys: ["cookie-key-for-tests"] },
    ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 600, AccessToken: 600 },
  });
  provider.proxy = false;
  const callback = provider.callback();
  http.createServer(async (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url);
    if (match) {
      try {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === "login") {
          result = { login: { accountId: "sso-person" } };
        } else {
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(" "));
          if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
          result = { consent: { grantId: await grant.save() } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
      return;
    }
    callback(req, res);
  }).listen(Number(port), "127.0.0.1", () => console.log("ready"));
} else if (mode === "drive") {
  const [start] = args;
  const jar = new Map(); // host → Map(name → value)
  const firstHost = new URL(start).host;
  let url = start;
  let response;
  for (let hop = 0; hop < 20; hop += 1) {
    const host = new URL(url).host;
    const cookies = jar.get(host) || new Map();
    response = await fetch(url, {
      redirect: "manual",
      headers: {
        accept: "text/html",
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, ...value] = pair.split("=");
      cookies.set(name.trim(), value.join("="));
    }
    jar.set(host, cookies);
    const location = response.headers.get("location");
    if (!location || response.status < 300 || response.status >= 400) break;
    url = new URL(location, url).toString();
  }
  const own = Object.fromEntries(jar.get(firstHost) || []);
  console.log(JSON.stringify({ url, status: response.status, cookies: own }));
} else {
  console.error("usage: node oidc.mjs serve PORT REDIRECT_URI ROLES_JSON | drive START_URL");
  process.exit(2);
}
