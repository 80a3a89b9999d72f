#include "proxy/policy/secret_store.h"

#include <array>

#include "proxy/policy/policy_validator.h"
#include "proxy/policy/policy_validator_syntax.h"

namespace gatehouse::policy {
namespace {

using nlohmann::json;
using validation::Issues;
using validation::ObjectReader;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kMaxSecretKeys = 64;
constexpr size_t kMaxSecretValueBytes = 64 * 1024;

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Reads one of `data` / `stringData` into `out`; `decode` says which.
void ReadSecretMap(const ObjectReader& root, std::string_view field, bool decode, SecretData* out) {
  const json* map = root.Get(field);
  if (map == nullptr) return;
  std::string path = root.FieldPath(field);
  if (!map->is_object()) {
    root.issues()->Add(path, "must be an object (key -> value)");
    return;
  }
  if (map->size() > kMaxSecretKeys) {
    root.issues()->Add(path, "must have at most " + std::to_string(kMaxSecretKeys) + " keys");
    return;
  }
  for (const auto& [key, value] : map->items()) {
    std::string key_path = validation::Key(path, key);
    std::string problem = validation::CheckSecretKey(key);
    if (!problem.empty()) {
      root.issues()->Add(key_path, "key " + problem);
      continue;
    }
    auto text = validation::ReadString(
        value, key_path, {.max_bytes = kMaxSecretValueBytes * 4 / 3 + 4, .allow_empty = true},
        root.issues());
    if (!text) continue;
    if (!decode) {
      (*out)[key] = *text;  // stringData wins: the API server applies it over data
      continue;
    }
    StatusOr<std::string> bytes = DecodeBase64Strict(*text);
    if (!bytes.ok()) {
      root.issues()->Add(key_path, bytes.status().message());  // says why, never the value
      continue;
    }
    out->emplace(key, std::move(*bytes));  // emplace: keeps a stringData value already there
  }
}

}  // namespace

bool SecretStore::Add(const std::string& namespace_name, const std::string& name, SecretData data) {
  return secrets_.emplace(std::make_pair(namespace_name, name), std::move(data)).second;
}

bool SecretStore::Contains(const std::string& namespace_name, const std::string& name) const {
  return secrets_.count(std::make_pair(namespace_name, name)) > 0;
}

StatusOr<std::string> SecretStore::Lookup(const std::string& namespace_name,
                                          const SecretRef& ref) const {
  auto secret = secrets_.find(std::make_pair(namespace_name, ref.name));
  if (secret == secrets_.end()) {
    return NotFoundError("Secret " + namespace_name + "/" + ref.name + " not found");
  }
  auto value = secret->second.find(ref.key);
  if (value == secret->second.end()) {
    return NotFoundError("Secret " + namespace_name + "/" + ref.name + " has no key '" + ref.key +
                         "'");
  }
  return value->second;
}

std::optional<ParsedSecret> ParseSecretObject(const json& object, Issues* issues) {
  size_t issues_before = issues->size();
  ObjectReader root(&object, "", issues,
                    {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"},
                    true);
  if (!root.present()) return std::nullopt;
  if (auto api = root.String("apiVersion", {.max_bytes = 128}, true); api && *api != "v1") {
    issues->Add("apiVersion", "must be v1 for a Secret (got " + validation::Quote(*api) + ")");
  }
  root.String("kind", {.max_bytes = 128}, true);
  root.String("type", {.max_bytes = 253});
  root.Bool("immutable");
  ObjectMeta meta = ReadObjectMeta(root);
  ParsedSecret secret;
  secret.namespace_name = meta.namespace_name;
  secret.name = meta.name;
  ReadSecretMap(root, "stringData", false, &secret.data);
  ReadSecretMap(root, "data", true, &secret.data);
  if (issues->size() != issues_before) return std::nullopt;
  return secret;
}

StatusOr<std::string> DecodeBase64Strict(std::string_view text) {
  if (text.size() % 4 != 0) {
    return InvalidArgumentError("must be base64 (standard alphabet, padded to a multiple of 4)");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    size_t padding = 0;
    if (last && text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
    std::array<int, 4> v{};
    for (size_t k = 0; k < 4 - padding; ++k) {
      v[k] = Base64Value(text[i + k]);
      if (v[k] < 0) {
        return InvalidArgumentError("must be base64: invalid character at offset " +
                                    std::to_string(i + k));
      }
    }
    uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    // Non-zero bits under the padding would give one value two spellings.
    if ((padding == 1 && (bits & 0xFF) != 0) || (padding == 2 && (bits & 0xFFFF) != 0)) {
      return InvalidArgumentError("must be base64: non-canonical padding bits");
    }
    out += static_cast<char>((bits >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(bits & 0xFF);
  }
  return out;
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t bits = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (n > 1) bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (n > 2) bits |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += kBase64Alphabet[(bits >> 18) & 63];
    out += kBase64Alphabet[(bits >> 12) & 63];
    out += n > 1 ? kBase64Alphabet[(bits >> 6) & 63] : '=';
    out += n > 2 ? kBase64Alphabet[bits & 63] : '=';
  }
  return out;
}

}  // namespace gatehouse::policy
