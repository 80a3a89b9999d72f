// Runs the browser sign-in identity provider for `scripts/run-local.sh`: the
// real oidc-provider with a plain sign-in form (no password: type a user name).
//   node e2e/tools/login-idp.mjs --port 9401 --redirect http://localhost:8080/.gatehouse/callback
// Client `gatehouse`, secret `gatehouse-secret` (examples/local/secrets.yaml).
// Users: ann (analysts), cy (contractors), ops (admins), emails <user>@example.com.
import { startLoginIdp } from '../lib/login-idp.mjs';
import { toolArgs } from './tool-args.mjs';

const values = toolArgs('login-idp',
  { redirect: { type: 'string', default: 'http://localhost:8080/.gatehouse/callback' } }, { defaultPort: 9401 });
const idp = await startLoginIdp({
  host: values.host,
  port: values.port,
  clients: [{ id: 'gatehouse', secret: 'gatehouse-secret', redirectUris: [values.redirect] }],
});
console.log(JSON.stringify({ issuer: idp.issuer }));
const stop = async () => { await idp.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
