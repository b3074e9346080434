// A small JSON reader/writer for safetensors headers and Hugging Face config files.
// Objects keep their key order (so a config we rewrite reads like the one we loaded).
// Parse errors throw rdpo::ArgumentError naming the source and the byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rdpo::json {

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;

  Value() = default;  // null
  static Value boolean(bool b);
  // `literal`: the number as the source spelled it, written back verbatim by dump() so a config
  // we rewrite keeps 3.0 a float (transformers 5 rejects 3 for a float field) and 1e-05 as is.
  static Value number(double d, std::string literal = {});
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value object(Object members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Accessors throw ArgumentError when the type is wrong; `what` names the value in the message.
  bool as_bool(const std::string& what = "value") const;
  double as_number(const std::string& what = "value") const;
  int64_t as_int(const std::string& what = "value") const;  // must be a whole number
  const std::string& as_string(const std::string& what = "value") const;
  const Array& as_array(const std::string& what = "value") const;
  const Object& as_object(const std::string& what = "value") const;

  // Object lookup: nullptr when absent (or when this is not an object).
  const Value* find(const std::string& key) const;
  // Object insert-or-replace, keeping the position of an existing key.
  void set(const std::string& key, Value v);

  // Compact serialisation (indent < 0) or pretty with `indent` spaces.
  std::string dump(int indent = -1) const;

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
};

// Parses a complete JSON document. `source` (a file name) is quoted in errors.
Value parse(const std::string& text, const std::string& source = "JSON");
Value parse(const char* data, size_t size, const std::string& source = "JSON");
Value parse_file(const std::string& path);

// JSON string literal for s (with quotes and escapes).
std::string quote(const std::string& s);

}  // namespace rdpo::json
