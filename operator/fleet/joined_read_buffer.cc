#include "operator/fleet/joined_read_buffer.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace gatehouse::fleet {

JoinedReadBuffer::JoinedReadBuffer(std::string_view first, std::string_view second)
    : streambuf_state_manager<uint8_t>(std::ios_base::in), first_(first), second_(second) {}

JoinedReadBuffer::~JoinedReadBuffer() { _close_read(); }

size_t JoinedReadBuffer::in_avail() const {
  return can_read() ? static_cast<size_t>(size()) - position_ : 0;
}

JoinedReadBuffer::pos_type JoinedReadBuffer::getpos(std::ios_base::openmode mode) const {
  if (mode != std::ios_base::in || !can_read()) return static_cast<pos_type>(traits::eof());
  return static_cast<pos_type>(position_);
}

JoinedReadBuffer::pos_type JoinedReadBuffer::seekpos(pos_type position,
                                                     std::ios_base::openmode mode) {
  // Reads only, and never outside the two ranges.
  if (mode != std::ios_base::in || !can_read() || position < pos_type(0) ||
      position > static_cast<pos_type>(size())) {
    return static_cast<pos_type>(traits::eof());
  }
  position_ = static_cast<size_t>(position);
  m_stream_read_eof = false;
  return position;
}

JoinedReadBuffer::pos_type JoinedReadBuffer::seekoff(off_type offset, std::ios_base::seekdir way,
                                                     std::ios_base::openmode mode) {
  pos_type base = 0;
  if (way == std::ios_base::cur) {
    base = static_cast<pos_type>(position_);
  } else if (way == std::ios_base::end) {
    base = static_cast<pos_type>(size());
  } else if (way != std::ios_base::beg) {
    return static_cast<pos_type>(traits::eof());
  }
  return seekpos(base + offset, mode);
}

bool JoinedReadBuffer::acquire(uint8_t*& ptr, size_t& count) {
  ptr = nullptr;
  count = 0;
  return false;
}

pplx::task<JoinedReadBuffer::int_type> JoinedReadBuffer::_putc(uint8_t) {
  return pplx::task_from_result<int_type>(traits::eof());
}

pplx::task<size_t> JoinedReadBuffer::_putn(const uint8_t*, size_t) {
  return pplx::task_from_result<size_t>(0);
}

size_t JoinedReadBuffer::Read(uint8_t* ptr, size_t count, bool advance) {
  if (!can_read()) return 0;
  size_t at = position_;
  size_t copied = 0;
  // From the first range, then (in the same call) from the second.
  for (std::string_view part : {first_, second_}) {
    if (copied == count) break;
    if (at >= part.size()) {
      at -= part.size();
      continue;
    }
    const size_t n = std::min(count - copied, part.size() - at);
    std::memcpy(ptr + copied, part.data() + at, n);
    copied += n;
    at = 0;
  }
  if (advance) position_ += copied;
  return copied;
}

JoinedReadBuffer::int_type JoinedReadBuffer::Peek() const {
  if (!can_read() || position_ >= size()) return traits::eof();
  const char c = position_ < first_.size() ? first_[position_] : second_[position_ - first_.size()];
  return static_cast<int_type>(static_cast<uint8_t>(c));
}

JoinedReadBuffer::int_type JoinedReadBuffer::_sbumpc() {
  const int_type c = Peek();
  if (c != traits::eof()) ++position_;
  return c;
}

pplx::task<JoinedReadBuffer::int_type> JoinedReadBuffer::_bumpc() {
  return pplx::task_from_result(_sbumpc());
}

JoinedReadBuffer::int_type JoinedReadBuffer::_sgetc() { return Peek(); }

pplx::task<JoinedReadBuffer::int_type> JoinedReadBuffer::_getc() {
  return pplx::task_from_result(Peek());
}

pplx::task<JoinedReadBuffer::int_type> JoinedReadBuffer::_nextc() {
  if (position_ + 1 >= size()) {
    position_ = static_cast<size_t>(size());
    return pplx::task_from_result<int_type>(traits::eof());
  }
  ++position_;
  return pplx::task_from_result(Peek());
}

pplx::task<JoinedReadBuffer::int_type> JoinedReadBuffer::_ungetc() {
  if (!can_read() || position_ == 0) return pplx::task_from_result<int_type>(traits::eof());
  --position_;
  return pplx::task_from_result(Peek());
}

pplx::task<size_t> JoinedReadBuffer::_getn(uint8_t* ptr, size_t count) {
  return pplx::task_from_result(Read(ptr, count, true));
}

size_t JoinedReadBuffer::_scopy(uint8_t* ptr, size_t count) { return Read(ptr, count, false); }

pplx::task<bool> JoinedReadBuffer::_sync() { return pplx::task_from_result(true); }

concurrency::streams::istream JoinedBody(std::string_view first, std::string_view second) {
  concurrency::streams::streambuf<uint8_t> buffer(
      std::make_shared<JoinedReadBuffer>(first, second));
  return concurrency::streams::istream(buffer);
}

}  // namespace gatehouse::fleet
