// HeaderArena and HeaderAllocator: storage for the header fields of parsed
// HTTP heads, carved from one block per connection instead of one heap
// allocation per field (Beast allocates every field, the method and the
// target separately: ~13 allocations for an ordinary request head).
//
//   HeaderBlockPool blocks;                      // one per event loop
//   HeaderArena arena(blocks);                   // one per connection, outlives its heads
//   RequestParser parser(std::piecewise_construct, std::make_tuple(),
//                        std::make_tuple(HeaderAllocator<char>(&arena)));
//   ... parse, read, modify the head ...
//   parser.reset / destroyed -> the block goes back to `blocks`
//
// How it works: the first allocation takes a block from the pool and later
// ones are bumped from it; freeing inside the block only counts down, and
// when the last allocation of the block is freed (the head's fields, all of
// them, are gone: its parser was reset or destroyed) the arena rewinds and
// gives the block back. So an idle keep-alive connection holds no block, and
// a busy one never more than one.
//
// Bounds: a block is HeaderBlockPool::block_bytes() (8 KiB by default);
// what does not fit (a head with very large fields, or fields replaced many
// times while one head lives) goes to the heap and is freed there, so an
// arena never holds more than one block whatever the head. The pool keeps at
// most `max_spare_blocks` blocks (the burst of one loop), the rest are freed.
//
// A default-constructed HeaderAllocator (no arena) is std::allocator: heads
// built by tests, the login flow or the admin port need nothing special. A
// copy of a head never shares its source's arena (the copy's fields live on
// the heap), so a copy may outlive the connection that parsed the original.
//
// Not thread-safe: an arena, its pool and the heads allocated from them
// belong to one event loop. Every head allocated from an arena must be
// destroyed before the arena.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace gatehouse::server {

class HeaderBlockPool {
 public:
  static constexpr std::size_t kDefaultBlockBytes = 8 * 1024;
  static constexpr std::size_t kDefaultMaxSpareBlocks = 128;

  explicit HeaderBlockPool(std::size_t block_bytes = kDefaultBlockBytes,
                           std::size_t max_spare_blocks = kDefaultMaxSpareBlocks)
      : block_bytes_(block_bytes), max_spare_blocks_(max_spare_blocks) {
    spare_.reserve(max_spare_blocks_);  // Give() then never allocates
  }
  HeaderBlockPool(const HeaderBlockPool&) = delete;
  HeaderBlockPool& operator=(const HeaderBlockPool&) = delete;

  // A block of block_bytes(), aligned for any scalar type.
  std::unique_ptr<std::byte[]> Take() {
    if (spare_.empty()) return std::unique_ptr<std::byte[]>(new std::byte[block_bytes_]);
    std::unique_ptr<std::byte[]> block = std::move(spare_.back());
    spare_.pop_back();
    return block;
  }

  void Give(std::unique_ptr<std::byte[]> block) {
    if (spare_.size() < max_spare_blocks_) spare_.push_back(std::move(block));
  }

  std::size_t block_bytes() const { return block_bytes_; }
  std::size_t spare_blocks() const { return spare_.size(); }

 private:
  std::size_t block_bytes_;
  std::size_t max_spare_blocks_;
  std::vector<std::unique_ptr<std::byte[]>> spare_;
};

// Heap storage with the given alignment: what the arena falls back to and
// what an allocator without an arena uses.
inline void* HeapAllocate(std::size_t bytes, std::size_t alignment) {
  if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(bytes);
  return ::operator new(bytes, std::align_val_t(alignment));
}

inline void HeapDeallocate(void* p, std::size_t alignment) noexcept {
  if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p);
  } else {
    ::operator delete(p, std::align_val_t(alignment));
  }
}

class HeaderArena {
 public:
  explicit HeaderArena(HeaderBlockPool& pool) : pool_(pool) {}
  ~HeaderArena() {
    // Every allocation is freed by now (heads die before their arena), so
    // the block is normally back in the pool already. If one were still
    // live, its memory must not be handed to someone else: keep it out of
    // the pool and let the block die with the arena.
    if (block_ && live_ == 0) pool_.Give(std::move(block_));
  }
  HeaderArena(const HeaderArena&) = delete;
  HeaderArena& operator=(const HeaderArena&) = delete;

  void* Allocate(std::size_t bytes, std::size_t alignment) {
    if (!block_) {
      block_ = pool_.Take();
      used_ = 0;
    }
    const std::size_t capacity = pool_.block_bytes();
    const std::size_t start = (used_ + alignment - 1) & ~(alignment - 1);
    if (alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ && start <= capacity &&
        bytes <= capacity - start) {
      used_ = start + bytes;
      ++live_;
      return block_.get() + start;
    }
    // Too large for what is left: the heap. A block nothing lives in goes
    // back at once (an idle connection holds none).
    if (live_ == 0) pool_.Give(std::move(block_));
    ++heap_allocations_;
    return HeapAllocate(bytes, alignment);
  }

  void Deallocate(void* p, std::size_t alignment) noexcept {
    if (InBlock(p)) {
      // Inside the block nothing is reused before the whole head is gone:
      // a count, no free list.
      if (--live_ == 0) {
        used_ = 0;
        pool_.Give(std::move(block_));
      }
      return;
    }
    HeapDeallocate(p, alignment);
  }

  bool holds_block() const { return block_ != nullptr; }
  std::size_t used_bytes() const { return used_; }
  std::size_t live_allocations() const { return live_; }
  // Allocations that did not fit the block, since the arena was made.
  std::size_t heap_allocations() const { return heap_allocations_; }

 private:
  bool InBlock(const void* p) const {
    if (!block_) return false;
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    const auto begin = reinterpret_cast<std::uintptr_t>(block_.get());
    return address >= begin && address - begin < pool_.block_bytes();
  }

  HeaderBlockPool& pool_;
  std::unique_ptr<std::byte[]> block_;
  std::size_t used_ = 0;
  std::size_t live_ = 0;
  std::size_t heap_allocations_ = 0;
};

template <class T>
class HeaderAllocator {
 public:
  using value_type = T;
  // Moving a head moves its storage along; copying never shares an arena
  // (select_on_container_copy_construction), so a copy may outlive it.
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_copy_assignment = std::false_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  HeaderAllocator() noexcept = default;
  explicit HeaderAllocator(HeaderArena* arena) noexcept : arena_(arena) {}
  template <class U>
  HeaderAllocator(const HeaderAllocator<U>& other) noexcept  // NOLINT: rebinding converts
      : arena_(other.arena()) {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    void* p = arena_ ? arena_->Allocate(n * sizeof(T), alignof(T))
                     : HeapAllocate(n * sizeof(T), alignof(T));
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t /*n*/) noexcept {
    if (arena_) {
      arena_->Deallocate(p, alignof(T));
    } else {
      HeapDeallocate(p, alignof(T));
    }
  }

  HeaderAllocator select_on_container_copy_construction() const { return HeaderAllocator(); }

  HeaderArena* arena() const noexcept { return arena_; }

 private:
  HeaderArena* arena_ = nullptr;
};

template <class T, class U>
bool operator==(const HeaderAllocator<T>& a, const HeaderAllocator<U>& b) noexcept {
  return a.arena() == b.arena();
}

template <class T, class U>
bool operator!=(const HeaderAllocator<T>& a, const HeaderAllocator<U>& b) noexcept {
  return !(a == b);
}

// The fields of every head the data path parses (gate.h's RequestHead).
using HeadFields = boost::beast::http::basic_fields<HeaderAllocator<char>>;

}  // namespace gatehouse::server
