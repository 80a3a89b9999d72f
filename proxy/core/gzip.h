// Gzip for stored fleet configs: the operator keeps the last rendered config
// in a Secret (the proxies' bootstrap), and the Kubernetes API refuses a
// Secret over 1 MiB, which a few thousand policies exceed uncompressed
// (~1.1 MB at 5,000). Rendered configs compress about 10x.
//
//   std::string stored = Gzip(config_bytes);
//   StatusOr<std::string> bytes = GunzipIfCompressed(read_bytes, kMaxFleetConfigBytes);
//
// GunzipIfCompressed passes data that does not start with the gzip magic
// bytes through unchanged (older, uncompressed bootstraps keep working) and
// never inflates past `max_bytes` (a decompression bomb is an error, not an
// allocation).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse {

std::string Gzip(std::string_view data);

bool IsGzip(std::string_view data);

StatusOr<std::string> GunzipIfCompressed(std::string_view data, size_t max_bytes);

}  // namespace gatehouse
