#include "proxy/server/request_head.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace gatehouse::server {
namespace {

namespace http = boost::beast::http;

// Room for the fields of an ordinary head, taken once: no growth while parsing.
constexpr std::size_t kFieldsReserved = 16;
// Room after a parsed head's bytes for what the gate and the data path set.
constexpr std::size_t kBytesSlack = 128;

std::string_view NameOf(http::field field) {
  const auto name = http::to_string(field);
  return {name.data(), name.size()};
}

http::field FieldOf(std::string_view name) {
  return http::string_to_field({name.data(), name.size()});
}

bool SameName(std::string_view a, std::string_view b) {
  return boost::beast::iequals({a.data(), a.size()}, {b.data(), b.size()});
}

uint32_t Size32(std::string_view text) {
  // Heads are bounded far below this (max_header_bytes); a larger piece is a bug.
  if (text.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error("request head piece too large");
  }
  return static_cast<uint32_t>(text.size());
}

}  // namespace

RequestHead::RequestHead(const Allocator& allocator)
    : allocator_(allocator), fields_(HeaderAllocator<Field>(allocator)) {}

RequestHead::RequestHead(const RequestHead& other)
    : fields_(other.fields_.begin(), other.fields_.end()),
      method_(other.method_),
      target_(other.target_),
      method_size_(other.method_size_),
      target_size_(other.target_size_),
      verb_(other.verb_),
      version_(other.version_) {
  if (other.bytes_size_ > 0) {
    bytes_ = allocator_.allocate(other.bytes_size_);
    bytes_capacity_ = bytes_size_ = other.bytes_size_;
    std::memcpy(bytes_, other.bytes_, bytes_size_);
    Rebase(other.bytes_, bytes_size_, bytes_);
  }
}

RequestHead& RequestHead::operator=(const RequestHead& other) {
  if (this != &other) *this = RequestHead(other);
  return *this;
}

RequestHead::RequestHead(RequestHead&& other) noexcept
    : allocator_(other.allocator_),
      bytes_(std::exchange(other.bytes_, nullptr)),
      bytes_size_(std::exchange(other.bytes_size_, 0)),
      bytes_capacity_(std::exchange(other.bytes_capacity_, 0)),
      fields_(std::move(other.fields_)),
      method_(other.method_),
      target_(other.target_),
      method_size_(other.method_size_),
      target_size_(other.target_size_),
      verb_(other.verb_),
      version_(other.version_) {
  other.clear();
}

RequestHead& RequestHead::operator=(RequestHead&& other) noexcept {
  if (this != &other) {
    FreeBytes();
    allocator_ = other.allocator_;
    bytes_ = std::exchange(other.bytes_, nullptr);
    bytes_size_ = std::exchange(other.bytes_size_, 0);
    bytes_capacity_ = std::exchange(other.bytes_capacity_, 0);
    fields_ = std::move(other.fields_);  // the allocator propagates: the storage moves along
    method_ = other.method_;
    target_ = other.target_;
    method_size_ = other.method_size_;
    target_size_ = other.target_size_;
    verb_ = other.verb_;
    version_ = other.version_;
    other.clear();
  }
  return *this;
}

RequestHead::~RequestHead() { FreeBytes(); }

void RequestHead::FreeBytes() {
  if (bytes_) allocator_.deallocate(bytes_, bytes_capacity_);
  bytes_ = nullptr;
  bytes_size_ = bytes_capacity_ = 0;
}

void RequestHead::method(http::verb verb) {
  const auto name = http::to_string(verb);
  verb_ = verb;
  method_ = name.data();
  method_size_ = static_cast<uint32_t>(name.size());
}

void RequestHead::method_string(std::string_view method) {
  verb_ = http::string_to_verb({method.data(), method.size()});
  method_size_ = Size32(method);
  method_ = Store(method);
}

void RequestHead::target(std::string_view target) {
  target_size_ = Size32(target);
  target_ = Store(target);
}

RequestHead::const_iterator RequestHead::find(http::field name) const {
  if (name == http::field::unknown) return end();
  return std::find_if(begin(), end(), [name](const Field& f) { return f.field_ == name; });
}

RequestHead::const_iterator RequestHead::find(std::string_view name) const {
  const http::field known = FieldOf(name);
  if (known != http::field::unknown) return find(known);
  return std::find_if(begin(), end(), [name](const Field& f) {
    return f.field_ == http::field::unknown && SameName(f.name_string(), name);
  });
}

std::size_t RequestHead::count(http::field name) const {
  if (name == http::field::unknown) return 0;
  return static_cast<std::size_t>(
      std::count_if(begin(), end(), [name](const Field& f) { return f.field_ == name; }));
}

std::size_t RequestHead::count(std::string_view name) const {
  const http::field known = FieldOf(name);
  if (known != http::field::unknown) return count(known);
  return static_cast<std::size_t>(std::count_if(begin(), end(), [name](const Field& f) {
    return f.field_ == http::field::unknown && SameName(f.name_string(), name);
  }));
}

std::string_view RequestHead::operator[](http::field name) const {
  const const_iterator it = find(name);
  return it == end() ? std::string_view() : it->value();
}

std::string_view RequestHead::operator[](std::string_view name) const {
  const const_iterator it = find(name);
  return it == end() ? std::string_view() : it->value();
}

void RequestHead::insert(http::field name, std::string_view value) {
  if (name == http::field::unknown) throw std::invalid_argument("unknown field");
  Append(name, NameOf(name), value);
}

void RequestHead::insert(std::string_view name, std::string_view value) {
  Append(FieldOf(name), name, value);
}

void RequestHead::insert(http::field field, std::string_view name, std::string_view value) {
  // Beast's enum is a function of the name; a caller's disagreeing one would
  // let find() and the strip pass see different fields: the name decides.
  Append(field == FieldOf(name) ? field : FieldOf(name), name, value);
}

void RequestHead::set(http::field name, std::string_view value) {
  // Appended first: `value` may view into a field about to be erased (its
  // bytes stay, only the entry goes).
  insert(name, value);
  const Field added = fields_.back();
  fields_.pop_back();
  erase(name);
  fields_.push_back(added);
}

void RequestHead::set(std::string_view name, std::string_view value) {
  insert(name, value);
  const Field added = fields_.back();
  fields_.pop_back();
  erase(name);
  fields_.push_back(added);
}

RequestHead::const_iterator RequestHead::erase(const_iterator field) {
  const auto at = fields_.begin() + (field - fields_.data());
  return fields_.data() + (fields_.erase(at) - fields_.begin());
}

template <class Match>
std::size_t RequestHead::EraseIf(Match match) {
  const auto kept = std::remove_if(fields_.begin(), fields_.end(), match);
  const auto erased = static_cast<std::size_t>(fields_.end() - kept);
  fields_.erase(kept, fields_.end());
  return erased;
}

std::size_t RequestHead::erase(http::field name) {
  if (name == http::field::unknown) return 0;
  return EraseIf([name](const Field& f) { return f.field_ == name; });
}

std::size_t RequestHead::erase(std::string_view name) {
  const http::field known = FieldOf(name);
  if (known != http::field::unknown) return erase(known);
  return EraseIf([name](const Field& f) {
    return f.field_ == http::field::unknown && SameName(f.name_string(), name);
  });
}

void RequestHead::clear() {
  // The storage stays for the next use; a parsed head is replaced whole.
  bytes_size_ = 0;
  fields_.clear();
  method_ = "";
  target_ = "";
  method_size_ = 0;
  target_size_ = 0;
  verb_ = http::verb::unknown;
  version_ = 11;
}

void RequestHead::SetParsedRequestLine(std::string_view method, std::string_view target,
                                       unsigned version) {
  // Room for an ordinary head's fields at once: the parser's appends never grow.
  if (fields_.capacity() < kFieldsReserved) fields_.reserve(kFieldsReserved);
  // The common methods without the table lookup.
  if (method == "GET") {
    verb_ = http::verb::get;
  } else if (method == "POST") {
    verb_ = http::verb::post;
  } else {
    verb_ = http::string_to_verb({method.data(), method.size()});
  }
  method_ = method.data();
  method_size_ = Size32(method);
  target_ = target.data();
  target_size_ = Size32(target);
  version_ = version;
}

void RequestHead::AdoptParsedBytes(std::string_view head_bytes) {
  FreeBytes();
  bytes_capacity_ = head_bytes.size() + kBytesSlack;
  bytes_ = allocator_.allocate(bytes_capacity_);
  bytes_size_ = head_bytes.size();
  std::memcpy(bytes_, head_bytes.data(), bytes_size_);
  // Every view of a parsed head is inside head_bytes: each moves by the same
  // distance, no range test needed.
  const auto delta = reinterpret_cast<std::uintptr_t>(bytes_) -
                     reinterpret_cast<std::uintptr_t>(head_bytes.data());
  const auto shift = [delta](const char*& p) {
    p = reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(p) + delta);
  };
  shift(method_);
  shift(target_);
  for (Field& f : fields_) {
    shift(f.name_);
    shift(f.value_);
  }
}

const char* RequestHead::Store(std::string_view text) {
  MakeRoom(text.size(), text, text);
  return Copy(text);
}

void RequestHead::MakeRoom(std::size_t bytes, std::string_view& a, std::string_view& b) {
  const std::size_t size = bytes_size_;
  if (bytes_capacity_ - size >= bytes) return;
  // The views (the head's and the caller's) follow the bytes to their new place.
  const auto old_begin = reinterpret_cast<std::uintptr_t>(bytes_);
  const std::size_t capacity = std::max(2 * bytes_capacity_, size + bytes + kBytesSlack);
  char* const grown = allocator_.allocate(capacity);
  if (size > 0) std::memcpy(grown, bytes_, size);
  const auto follow = [&](std::string_view& text) {
    const auto at = reinterpret_cast<std::uintptr_t>(text.data());
    if (size > 0 && at >= old_begin && at - old_begin < size) {
      text = std::string_view(grown + (at - old_begin), text.size());
    }
  };
  follow(a);
  follow(b);
  Rebase(bytes_, size, grown);
  FreeBytes();
  bytes_ = grown;
  bytes_size_ = size;
  bytes_capacity_ = capacity;
}

const char* RequestHead::Copy(std::string_view text) {
  if (text.empty()) return "";
  char* const at = bytes_ + bytes_size_;  // within the room made: no move
  std::memcpy(at, text.data(), text.size());
  bytes_size_ += text.size();
  return at;
}

void RequestHead::Rebase(const char* from, std::size_t size, const char* to) {
  if (from == to) return;
  // Compared as addresses: a view into static storage or elsewhere stays put.
  const auto begin = reinterpret_cast<std::uintptr_t>(from);
  const auto moved = [&](const char*& p) {
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    if (at >= begin && at - begin <= size) p = to + (at - begin);
  };
  moved(method_);
  moved(target_);
  for (Field& f : fields_) {
    moved(f.name_);
    moved(f.value_);
  }
}

void RequestHead::Append(http::field field, std::string_view name, std::string_view value) {
  if (fields_.capacity() == 0) fields_.reserve(kFieldsReserved);
  const uint32_t name_size = Size32(name);
  const uint32_t value_size = Size32(value);
  // A known name spelled as Beast spells it needs no copy.
  const bool static_name = field != http::field::unknown && name == NameOf(field);
  // Room for both at once: `name` or `value` may view into bytes_, and one
  // growth between the two copies would leave the first one behind.
  MakeRoom((static_name ? 0 : name.size()) + value.size(), name, value);
  const char* const stored_name = static_name ? NameOf(field).data() : Copy(name);
  const char* const stored_value = Copy(value);
  Field& f = fields_.emplace_back();
  f.name_ = stored_name;
  f.name_size_ = name_size;
  f.value_ = stored_value;
  f.value_size_ = value_size;
  f.field_ = field;
}

}  // namespace gatehouse::server
