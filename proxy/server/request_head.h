// RequestHead: one HTTP/1.x request head as the data path and the gate use
// it: the request line and the header fields in the order they came, each
// field a name, Beast's enum for the name (http::field::unknown when it has
// none) and a value.
//
//   RequestHead head(HeaderAllocator<char>(&arena));  // or RequestHead head; (heap)
//   ParseRequestHead(bytes, limits, head);            // request_head_parser.h fills it
//   head[http::field::host];                          // "" when absent
//   for (auto it = head.begin(); it != head.end();)   // strip as you go
//     it = Drop(*it) ? head.erase(it) : it + 1;
//   head.set(http::field::connection, "Upgrade");
//
// Why not Beast's basic_fields: those keep every field in an intrusive list
// and a multiset, a node and a tree insert per field, about 2,000
// instructions for an ordinary head before anything reads it. Here a parsed
// head is one copy of its bytes plus an array of (name, value) views into
// them: appending a field is a store, finding one a short scan (heads have
// about ten fields). Lookups compare Beast's enum when the name has one and
// the name case-insensitively otherwise, as basic_fields does.
//
// Storage: the bytes (the parsed head, then any name or value set later) and
// the field array live in the allocator's arena (header_arena.h) or on the
// heap. Names of known fields set by enum point at Beast's static names.
// Erasing a field drops its entry, not its bytes; setting a value appends
// its bytes. A copy owns its bytes on the heap and never shares the arena.
//
// Values are stored as given: the head writer (head_writer.h) checks every
// name and value before they go on the wire.
//
// Not thread-safe; one request's head, on its connection's event loop.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/server/header_arena.h"

namespace gatehouse::server {

class RequestHead {
 public:
  using Allocator = HeaderAllocator<char>;

  class Field {
   public:
    boost::beast::http::field name() const { return field_; }
    std::string_view name_string() const { return {name_, name_size_}; }
    std::string_view value() const { return {value_, value_size_}; }
    // ParseRequestHead put it here: the name is a token and the value holds
    // no control byte but HTAB and no DEL (what head_writer.h checks of
    // every other field). Fields inserted or set in code are not.
    bool parsed() const { return parsed_; }

   private:
    friend class RequestHead;
    const char* name_ = "";
    const char* value_ = "";
    uint32_t name_size_ = 0;
    uint32_t value_size_ = 0;
    boost::beast::http::field field_ = boost::beast::http::field::unknown;
    bool parsed_ = false;
  };
  using const_iterator = const Field*;
  using iterator = const Field*;

  RequestHead() = default;
  explicit RequestHead(const Allocator& allocator);
  // A copy keeps its bytes on the heap, whatever the source's allocator.
  RequestHead(const RequestHead& other);
  RequestHead& operator=(const RequestHead& other);
  RequestHead(RequestHead&& other) noexcept;
  RequestHead& operator=(RequestHead&& other) noexcept;
  ~RequestHead();

  Allocator get_allocator() const { return allocator_; }

  // The request line.
  boost::beast::http::verb method() const { return verb_; }
  std::string_view method_string() const { return {method_, method_size_}; }
  void method(boost::beast::http::verb verb);
  void method_string(std::string_view method);
  std::string_view target() const { return {target_, target_size_}; }
  void target(std::string_view target);
  unsigned version() const { return version_; }
  void version(unsigned version) { version_ = version; }

  // The fields, in order.
  const_iterator begin() const { return fields_.data(); }
  const_iterator end() const { return fields_.data() + fields_.size(); }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

  // The first field of that name, or end().
  const_iterator find(boost::beast::http::field name) const;
  const_iterator find(std::string_view name) const;
  std::size_t count(boost::beast::http::field name) const;
  std::size_t count(std::string_view name) const;
  // The first value of that name, or "".
  std::string_view operator[](boost::beast::http::field name) const;
  std::string_view operator[](std::string_view name) const;

  // Appends a field after the others.
  void insert(boost::beast::http::field name, std::string_view value);
  void insert(std::string_view name, std::string_view value);
  void insert(boost::beast::http::field field, std::string_view name, std::string_view value);
  // Replaces every field of that name by one with this value, at the end.
  void set(boost::beast::http::field name, std::string_view value);
  void set(std::string_view name, std::string_view value);
  // Removes a field; returns the one after it.
  const_iterator erase(const_iterator field);
  // Removes every field of that name; returns how many there were.
  std::size_t erase(boost::beast::http::field name);
  std::size_t erase(std::string_view name);
  // No request line, no fields, no bytes kept.
  void clear();

  // For ParseRequestHead (request_head_parser.h), which fills a head in one
  // pass, each field after checking its line (Field::parsed()): the request
  // line and fields are views into the caller's buffer
  // until AdoptParsedBytes copies the head's bytes (which hold every one of
  // those views) and points the views at the copy. Until then the head must
  // not outlive that buffer: a parse that does not complete clears it.
  void SetParsedRequestLine(std::string_view method, std::string_view target, unsigned version);
  void AppendParsedField(boost::beast::http::field field, std::string_view name,
                         std::string_view value) {
    // Inline and without a size check per byte: the parser's inner loop.
    Field& f = fields_.emplace_back();
    f.name_ = name.data();
    f.name_size_ = static_cast<uint32_t>(name.size());
    f.value_ = value.data();
    f.value_size_ = static_cast<uint32_t>(value.size());
    f.field_ = field;
    f.parsed_ = true;
  }
  void AdoptParsedBytes(std::string_view head_bytes);

 private:
  // Copies `text` into bytes_ and returns where it now is. `text` may view
  // into bytes_ itself.
  const char* Store(std::string_view text);
  // Makes room for `bytes` more without moving later; `a` and `b` follow the
  // bytes if they view into them.
  void MakeRoom(std::size_t bytes, std::string_view& a, std::string_view& b);
  // Appends `text` within the room made.
  const char* Copy(std::string_view text);
  // Every view inside [from, from + size) moves to the same offset from `to`.
  void Rebase(const char* from, std::size_t size, const char* to);
  void Append(boost::beast::http::field field, std::string_view name, std::string_view value);
  template <class Match>
  std::size_t EraseIf(Match match);

  void FreeBytes();

  Allocator allocator_;
  // The head's bytes: allocated from allocator_ by hand, so that the views
  // can follow them when they move (a vector would move them unseen).
  char* bytes_ = nullptr;
  std::size_t bytes_size_ = 0;
  std::size_t bytes_capacity_ = 0;
  std::vector<Field, HeaderAllocator<Field>> fields_;
  const char* method_ = "";
  const char* target_ = "";
  uint32_t method_size_ = 0;
  uint32_t target_size_ = 0;
  boost::beast::http::verb verb_ = boost::beast::http::verb::unknown;
  unsigned version_ = 11;
};

}  // namespace gatehouse::server
