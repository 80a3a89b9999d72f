// JoinedReadBuffer: a read-only cpprestsdk stream buffer over two byte ranges
// read one after the other, so a request body made of a short header and a
// large content is sent without first copying both into one string.
//
//   const std::string header = policy::FleetConfigHeader(config);
//   concurrency::streams::istream body = JoinedBody(header, config.content);
//   request.set_body(body, header.size() + config.content.size(), "application/json");
//   client.request(request).get();  // `header` and the content must outlive this
//
// The ranges are read in place and never copied or owned: both must outlive
// every read (the request's completion). Seeking is supported (cpprestsdk
// rewinds a body to resend it on a fresh connection); writes are refused.
#pragma once

#include <cpprest/astreambuf.h>
#include <cpprest/streams.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gatehouse::fleet {

class JoinedReadBuffer final
    : public concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  JoinedReadBuffer(std::string_view first, std::string_view second);
  ~JoinedReadBuffer() override;

  bool can_seek() const override { return is_open(); }
  bool has_size() const override { return is_open(); }
  utility::size64_t size() const override { return first_.size() + second_.size(); }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override;
  pos_type getpos(std::ios_base::openmode mode) const override;
  pos_type seekpos(pos_type position, std::ios_base::openmode mode) override;
  pos_type seekoff(off_type offset, std::ios_base::seekdir way,
                   std::ios_base::openmode mode) override;
  // No direct access to the bytes (they are const and in two places).
  bool acquire(uint8_t*& ptr, size_t& count) override;
  void release(uint8_t*, size_t) override {}

 protected:
  pplx::task<int_type> _putc(uint8_t) override;
  pplx::task<size_t> _putn(const uint8_t*, size_t) override;
  pplx::task<int_type> _bumpc() override;
  int_type _sbumpc() override;
  pplx::task<int_type> _getc() override;
  int_type _sgetc() override;
  pplx::task<int_type> _nextc() override;
  pplx::task<int_type> _ungetc() override;
  pplx::task<size_t> _getn(uint8_t* ptr, size_t count) override;
  size_t _scopy(uint8_t* ptr, size_t count) override;
  pplx::task<bool> _sync() override;
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}

 private:
  // Copies up to `count` bytes from the read position; moves it when `advance`.
  size_t Read(uint8_t* ptr, size_t count, bool advance);
  int_type Peek() const;

  std::string_view first_;
  std::string_view second_;
  size_t position_ = 0;
};

// An input stream over `first` then `second` (see JoinedReadBuffer).
concurrency::streams::istream JoinedBody(std::string_view first, std::string_view second);

}  // namespace gatehouse::fleet
