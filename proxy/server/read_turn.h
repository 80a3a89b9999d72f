// Reads that follow our own write wait one turn of the event loop when the
// loop has other requests to serve.
//
//   if (ReadAfterOthers(loop.requests_in_flight, /*own=*/0)) stream.tcp().read_after_turn();
//   co_await stream.async_read_some(...);   // starts after the loop's next poll
//
// Why: Asio (Boost 1.74) starts every read with a non-blocking recv and only
// then waits on epoll, and it keeps doing so after every readiness event.
// A read that follows our own write almost never finds bytes there: the next
// request comes only once the client has our response, the upstream's answer
// only once it has our request. Each such read costs a recv that fails with
// EAGAIN. Under wrk -c64 that was 1.8 of the 5.0 recvfrom calls per proxied
// request (perf syscall tracepoints; nginx makes 2.0).
//
// With other requests to work on, the read starts after them, behind the
// next poll: by then the bytes have usually arrived and the recv finds them
// (3.05 recvfrom per request). The turn costs no latency: the bytes could not
// be handled before that poll anyway. With nothing else to do, the read starts
// at once: a turn would only add an empty poll.
//
// DeadlineStream::read_after_turn defers the read's start itself: the read
// waits in the loop's batch (DeadlineStream::ReadTurns), and one handler
// queued on the loop starts every read of the batch. callgrind, whole
// process under 64 connections: 21,829 instructions per proxied request
// with one queued handler per deferred read, 20,917 with the batch (19,700
// without any turn); a co_await of asio::post per read cost more still.
#pragma once

namespace gatehouse::server {

// True when requests other than the caller's `own` (0 between requests, 1
// inside one) are in flight on the loop.
inline bool ReadAfterOthers(int requests_in_flight, int own) { return requests_in_flight > own; }

}  // namespace gatehouse::server
