// Command-line flags of the e2e/tools servers, parsed strictly with node:util
// parseArgs. An unknown flag, a flag without its value, a stray argument or a
// bad --port ends the tool with exit code 2 and a message that names the flag:
//
//   const args = toolArgs('metabase-standin', { 'jwt-secret': { type: 'string', default: '' } });
//   args.port   // a number 0..65535 (--port is always accepted; default 0 = chosen at bind)
//   args.host   // '127.0.0.1' unless --host
//   args['jwt-secret']
//
//   $ node e2e/tools/metabase-standin.mjs --prot 0
//   metabase-standin: Unknown option '--prot'
//   usage: metabase-standin [--port N] [--host HOST] [--jwt-secret JWT-SECRET]
import { parseArgs } from 'node:util';

// Parses `argv` (default: this process's arguments) -> {port, host, ...options}.
// options: parseArgs option specs (type 'string' or 'boolean', default).
// Exits the process with code 2 on any error (these are command-line tools).
export function toolArgs(tool, options = {}, { defaultPort = 0, argv = process.argv.slice(2) } = {}) {
  const spec = {
    port: { type: 'string', default: String(defaultPort) },
    host: { type: 'string', default: '127.0.0.1' },
    ...options,
  };
  try {
    const { values } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false });
    return { ...values, port: parsePort(values.port) };
  } catch (e) {
    process.stderr.write(`${tool}: ${e.message}\nusage: ${tool} ${usage(spec)}\n`);
    process.exit(2);
  }
}

function parsePort(text) {
  // Digits only: "8080abc", "-1", "0x50" and "" are refused, not coerced.
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new Error(`--port: expected a port number 0..65535, got '${text}'`);
  return port;
}

function usage(spec) {
  return Object.entries(spec).map(([name, o]) => (o.type === 'boolean'
    ? `[--${name}]` : `[--${name} ${name === 'port' ? 'N' : name.toUpperCase()}]`)).join(' ');
}
