// kubeconfig documents for kubectl and the operator (bearer token auth).
//
// Usage:
//   const text = kubeconfigYaml({ url: 'http://127.0.0.1:4321', token: 't', caPem });
//   fs.writeFileSync(path, text, { mode: 0o600 });

import YAML from 'yaml';

export function kubeconfigYaml({ url, token, caPem, namespace = 'default' }) {
  const cluster = { server: url };
  if (caPem) cluster['certificate-authority-data'] = Buffer.from(caPem).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'gatehouse-test', cluster }],
    users: [{ name: 'gatehouse-test', user: { token } }],
    contexts: [{ name: 'gatehouse-test', context: { cluster: 'gatehouse-test', user: 'gatehouse-test', namespace } }],
    'current-context': 'gatehouse-test',
    preferences: {},
  });
}
