#include "proxy/core/gzip.h"

#include <zlib.h>

#include <array>

namespace gatehouse {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // zlib: +16 selects the gzip wrapper

}  // namespace

std::string Gzip(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);  // deflateBound guarantees room for the whole stream
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

bool IsGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

StatusOr<std::string> GunzipIfCompressed(std::string_view data, size_t max_bytes) {
  if (!IsGzip(data)) return std::string(data);
  z_stream z{};
  if (inflateInit2(&z, kGzipWindowBits) != Z_OK) return InternalError("gzip: inflateInit failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 64 * 1024> chunk;
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    const size_t produced = chunk.size() - z.avail_out;
    // Security: bound the output, not the input: a few KB can inflate to GBs.
    if (out.size() + produced > max_bytes) {
      inflateEnd(&z);
      return InvalidArgumentError("gzip: inflates past " + std::to_string(max_bytes) + " bytes");
    }
    out.append(chunk.data(), produced);
    if (rc == Z_OK && produced == 0 && z.avail_in == 0) rc = Z_BUF_ERROR;  // truncated
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return InvalidArgumentError("gzip: corrupt or truncated data");
  if (z.avail_in != 0) return InvalidArgumentError("gzip: trailing bytes after the stream");
  return out;
}

}  // namespace gatehouse
