#include "operator/kube/informer.h"

#include <random>
#include <thread>

namespace gatehouse::kube {
namespace {

using nlohmann::json;

// Watches that end at once without any event count as failures (backoff), so a
// server that closes every stream immediately cannot make us spin.
std::string ResourceVersionOf(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  return rv != meta->end() && rv->is_string() ? rv->get<std::string>() : "";
}

bool Is410(const json& status_object) {
  return status_object.is_object() && status_object.value("code", 0) == 410;
}

}  // namespace

std::string ObjectKey(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "/";
  return meta->value("namespace", "") + "/" + meta->value("name", "");
}

Informer::Informer(KubeTransport& transport, InformerOptions options,
                   std::function<void(std::chrono::milliseconds)> sleep,
                   std::function<double()> random01)
    : transport_(transport),
      options_(std::move(options)),
      sleep_(std::move(sleep)),
      random01_(std::move(random01)) {
  if (!random01_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    random01_ = [engine] { return std::uniform_real_distribution<double>(0, 1)(*engine); };
  }
}

std::string Informer::Query(bool watch) const {
  std::string q = "?";
  if (!options_.label_selector.empty()) {
    q += "labelSelector=" + UrlEncode(options_.label_selector) + "&";
  }
  if (!options_.field_selector.empty()) {
    q += "fieldSelector=" + UrlEncode(options_.field_selector) + "&";
  }
  if (watch) {
    q += "watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
         std::to_string(options_.watch_timeout_seconds) +
         "&resourceVersion=" + UrlEncode(resource_version());
  }
  if (q.back() == '&' || q.back() == '?') q.pop_back();
  return q;
}

Status Informer::ListPage(const std::string& continue_token,
                          std::map<std::string, std::shared_ptr<const json>>* objects,
                          std::string* next_continue, std::string* resource_version) {
  std::string query = Query(false);
  if (options_.page_size > 0) {
    query +=
        (query.empty() ? "?" : "&") + std::string("limit=") + std::to_string(options_.page_size);
    if (!continue_token.empty()) query += "&continue=" + UrlEncode(continue_token);
  }
  // Items are taken out of the parse one by one as each completes (and
  // transformed to what the cache keeps), so the list is never a whole JSON
  // tree: the parser holds one item at a time, the transport a read buffer.
  std::string top_key;  // the list's field being parsed ("items", "metadata", ...)
  size_t taken = 0;
  json::parser_callback_t take = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key) {
      top_key = parsed.is_string() ? parsed.get<std::string>() : "";
    } else if (depth == 2 && top_key == "items" &&
               (event == json::parse_event_t::object_end || event == json::parse_event_t::value)) {
      if (parsed.is_object()) {
        std::string key = ObjectKey(parsed);
        (*objects)[key] = std::make_shared<const json>(
            options_.transform ? options_.transform(std::move(parsed)) : std::move(parsed));
        ++taken;
      }
      return false;  // dropped from the tree: it lives on in `objects` only
    }
    return true;
  };
  json list;
  StatusOr<int> status = transport_.GetStreamed(options_.path + query, [&](std::istream& body) {
    list = json::parse(body, take, false);
    return Status::Ok();
  });
  if (!status.ok()) return status.status();
  if (*status != 200) {
    // 410 on a continue token: the snapshot expired; the next attempt lists afresh.
    return UnavailableError("list " + options_.path + ": HTTP " + std::to_string(*status));
  }
  // A body cut short or not a list leaves the cache as it was (List() swaps
  // in the new objects only when every page parsed).
  if (list.is_discarded() || !list.is_object() || !list.contains("items") ||
      !list["items"].is_array()) {
    return UnavailableError("list " + options_.path + ": not a list");
  }
  const json meta = list.value("metadata", json::object());
  *resource_version = ResourceVersionOf(list);
  *next_continue = meta.is_object() ? meta.value("continue", "") : "";
  return Status::Ok();
}

Status Informer::List() {
  std::map<std::string, std::shared_ptr<const json>> objects;
  std::string continue_token;
  std::string resource_version;
  do {
    std::string next;
    Status page = ListPage(continue_token, &objects, &next, &resource_version);
    if (!page.ok()) return page;
    continue_token = std::move(next);
  } while (!continue_token.empty());
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A relist replaces the cache whole: deletions missed while disconnected vanish too.
    objects_ = std::move(objects);
    resource_version_ = resource_version;
  }
  ++lists_;
  synced_ = true;
  Notify();
  return Status::Ok();
}

bool Informer::ApplyEvent(std::string_view line, Status* outcome, int* delivered) {
  json event = json::parse(line, nullptr, false);
  if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
      !event["type"].is_string() || !event.contains("object")) {
    *outcome = UnavailableError("watch " + options_.path + ": malformed event");
    return false;
  }
  const std::string type = event["type"].get<std::string>();
  json& object = event["object"];
  if (type == "ERROR") {
    if (Is410(object)) {
      std::lock_guard<std::mutex> lock(mu_);
      resource_version_.clear();  // too old: relist
      *outcome = Status::Ok();
    } else {
      *outcome = UnavailableError("watch " + options_.path + ": ERROR event");
    }
    return false;
  }
  ++*delivered;
  std::string rv = ResourceVersionOf(object);
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!rv.empty()) resource_version_ = rv;
    if (type == "ADDED" || type == "MODIFIED") {
      std::string key = ObjectKey(object);
      objects_[key] = std::make_shared<const json>(
          options_.transform ? options_.transform(std::move(object)) : std::move(object));
      changed = true;
    } else if (type == "DELETED") {
      changed = objects_.erase(ObjectKey(object)) > 0;
    }  // BOOKMARK: only the resourceVersion moves
  }
  if (changed) Notify();
  return true;
}

Status Informer::WatchOnce() {
  Status outcome = Status::Ok();
  int delivered = 0;
  std::string error_body;
  StatusOr<int> status = transport_.Watch(
      options_.path + Query(true),
      [&](std::string_view line) { return !stop_ && ApplyEvent(line, &outcome, &delivered); },
      &error_body);
  if (!status.ok()) return status.status();
  if (*status == 410) {
    std::lock_guard<std::mutex> lock(mu_);
    resource_version_.clear();
    return Status::Ok();
  }
  if (*status != 200) {
    return UnavailableError("watch " + options_.path + ": HTTP " + std::to_string(*status));
  }
  if (!outcome.ok()) return outcome;
  if (delivered == 0 && !resource_version().empty()) {
    return UnavailableError("watch " + options_.path + " ended without events");
  }
  return Status::Ok();
}

Status Informer::Step() {
  if (resource_version().empty()) {
    Status listed = List();
    if (!listed.ok()) return listed;
  }
  return WatchOnce();
}

void Informer::Run() {
  int attempt = 0;
  while (!stop_) {
    Status status = Step();
    if (status.ok()) {
      attempt = 0;
      continue;
    }
    SleepFor(options_.backoff.Delay(attempt, random01_()));
    ++attempt;
  }
}

void Informer::Stop() {
  stop_ = true;
  sleep_cv_.notify_all();
}

void Informer::SleepFor(std::chrono::milliseconds d) {
  if (sleep_) return sleep_(d);
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stop_.load(); });
}

std::vector<json> Informer::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(*object);
  return out;
}

std::vector<std::shared_ptr<const json>> Informer::SharedSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const json>> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(object);
  return out;
}

std::string Informer::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

void Informer::Notify() {
  if (on_change_) on_change_();
}

}  // namespace gatehouse::kube
