// String formats that the API server checks in CRD schemas (a practical subset).
// Unknown formats are accepted, as the real server does.
//
// Usage: validateFormat('date-time', '2024-01-01T00:00:00Z') === true

import { isIP } from 'node:net';

const kChecks = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s),
  uuid: (s) => /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(s),
  ipv4: (s) => isIP(s) === 4,
  ipv6: (s) => isIP(s) === 6,
  cidr: (s) => {
    const [ip, bits, extra] = s.split('/');
    if (extra !== undefined || !/^\d+$/.test(bits ?? '')) return false;
    const family = isIP(ip);
    return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
  },
  hostname: (s) =>
    s.length <= 255 && /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(s),
  email: (s) => /^[^@\s]+@[^@\s]+$/.test(s),
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  uri: (s) => {
    // Go url.ParseRequestURI: an absolute URI or an absolute path.
    if (s.startsWith('/')) return true;
    try {
      return Boolean(new URL(s).protocol);
    } catch {
      return false;
    }
  },
  duration: (s) => /^(-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+|0)$/.test(s),
};

export function validateFormat(format, value) {
  const check = kChecks[format];
  return check ? check(value) : true;
}
