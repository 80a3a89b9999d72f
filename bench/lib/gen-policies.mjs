// gen-policies.mjs: the policy set Gatehouse evaluates during the benchmark.
//
//   node gen-policies.mjs OUTDIR COUNT ISSUER UPSTREAM_URL HOST
//
// Writes COUNT AccessPolicy files into OUTDIR: the one the benchmark hits
// (HOST, upstream UPSTREAM_URL) and COUNT-1 fillers on other hosts, every one
// with the same issuer and rules that use groups, emailDomains and ipBlocks, so
// the compiled route table and matchers have a realistic size.
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

const [outDir, countArg, issuer, upstreamUrl, host] = process.argv.slice(2);
const count = Number(countArg);
if (!outDir || !(count >= 1) || !issuer || !upstreamUrl || !host) {
  console.error('usage: node gen-policies.mjs OUTDIR COUNT ISSUER UPSTREAM_URL HOST');
  process.exit(2);
}

function policy(name, hostName, upstream) {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: ${name}
  namespace: bench
spec:
  hosts: ["${hostName}"]
  upstream:
    url: ${upstream}
    timeoutSeconds: 30
  authentication:
    issuers:
      - issuer: ${issuer}
        audiences: [gatehouse]
  rules:
    - name: health
      action: Allow
      methods: [GET, HEAD]
      paths: ["/healthz"]
      from: {public: true}
    - name: no-contractor-exports
      action: Deny
      paths: ["/api/dataset/csv", "/api/card/*/query/*"]
      from: {groups: [contractors]}
    - name: analysts-read
      action: Allow
      methods: [GET, HEAD]
      paths: ["/", "/api/**", "/dashboard/**"]
      from: {groups: [analysts], emailDomains: [example.com], ipBlocks: [127.0.0.0/8, 10.0.0.0/8]}
    - name: admins
      action: Allow
      from: {groups: [admins], ipBlocks: [10.0.0.0/8]}
`;
}

mkdirSync(outDir, {recursive: true});
writeFileSync(join(outDir, 'p0000-bench.yaml'), policy('bench', host, upstreamUrl));
for (let i = 1; i < count; i++) {
  const id = String(i).padStart(4, '0');
  writeFileSync(join(outDir, `p${id}-filler.yaml`),
                policy(`filler-${id}`, `svc-${id}.filler.bench.test`,
                       `http://127.0.0.1:${20000 + (i % 1000)}`));
}
