// serve: run the proxy. Wires the gate (ConfigStore, RequestGate, audit,
// metrics, JWKS refresh, policy watcher) to the data path (ProxyServer) and the
// admin port (AdminServer), then waits for signals.
//
//   gatehouse-proxy serve --policies DIR | --bootstrap FILE
//       [--listen ADDR] [--admin ADDR] [--threads N] [--tls-cert F --tls-key F]
//       [--signing-key F] [--drain-seconds N]
//
//   int rc = RunServe(args, std::cerr);   // blocks until SIGTERM/SIGINT; 0 after a drain
//
// Signals: SIGTERM / SIGINT drain in-flight requests (up to --drain-seconds)
// and exit 0; SIGHUP reloads the policy folder in local mode. Logs go to
// stderr, audit lines to stdout. Once listening it logs
// "listening on HOST:PORT, admin on HOST:PORT" (the bound ports, so :0 works).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace gatehouse::cli {

int RunServe(const std::vector<std::string>& args, std::ostream& err);

}  // namespace gatehouse::cli
