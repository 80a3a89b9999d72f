// Runs the local identity provider for `scripts/run-local.sh`:
//   node e2e/tools/local-idp.mjs --port 9400
// Clients (client_id / secret `<id>-secret`), each one identity:
//   ann  analyst     ann@example.com   [analysts]
//   cy   contractor  cy@example.com    [contractors, analysts]
//   ops  admin       ops@example.com   [metabase-admins]
import { startLocalIdp } from '../lib/local-idp.mjs';
import { toolArgs } from './tool-args.mjs';

const values = toolArgs('local-idp', {}, { defaultPort: 9400 });
export const kDemoClients = {
  ann: { email: 'ann@example.com', email_verified: true, groups: ['analysts'] },
  cy: { email: 'cy@example.com', email_verified: true, groups: ['contractors', 'analysts'] },
  ops: { email: 'ops@example.com', email_verified: true, groups: ['metabase-admins'] },
};
const idp = await startLocalIdp({ host: values.host, port: values.port, clients: kDemoClients });
console.log(JSON.stringify({ issuer: idp.issuer, port: idp.port }));
const stop = async () => { await idp.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
