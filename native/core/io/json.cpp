#include "core/io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/base/errors.h"

namespace rdpo::json {

// ---------------------------------------------------------------- values

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
Value Value::number(double d, std::string literal) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = d;
  v.string_ = std::move(literal);  // a number's spelling; strings use the same member
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.string_ = std::move(s);
  return v;
}
Value Value::array(Array items) {
  Value v;
  v.type_ = Type::Array;
  v.array_ = std::make_shared<Array>(std::move(items));
  return v;
}
Value Value::object(Object members) {
  Value v;
  v.type_ = Type::Object;
  v.object_ = std::make_shared<Object>(std::move(members));
  return v;
}

namespace {
const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::Null:
      return "null";
    case Value::Type::Bool:
      return "a boolean";
    case Value::Type::Number:
      return "a number";
    case Value::Type::String:
      return "a string";
    case Value::Type::Array:
      return "an array";
    case Value::Type::Object:
      return "an object";
  }
  return "?";
}
[[noreturn]] void wrong_type(const std::string& what, const char* wanted, Value::Type got) {
  throw ArgumentError(what + " must be " + wanted + ", got " + type_name(got));
}
}  // namespace

bool Value::as_bool(const std::string& what) const {
  if (type_ != Type::Bool) wrong_type(what, "a boolean", type_);
  return bool_;
}
double Value::as_number(const std::string& what) const {
  if (type_ != Type::Number) wrong_type(what, "a number", type_);
  return number_;
}
int64_t Value::as_int(const std::string& what) const {
  double d = as_number(what);
  if (std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
    throw ArgumentError(what + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}
const std::string& Value::as_string(const std::string& what) const {
  if (type_ != Type::String) wrong_type(what, "a string", type_);
  return string_;
}
const Value::Array& Value::as_array(const std::string& what) const {
  if (type_ != Type::Array) wrong_type(what, "an array", type_);
  return *array_;
}
const Value::Object& Value::as_object(const std::string& what) const {
  if (type_ != Type::Object) wrong_type(what, "an object", type_);
  return *object_;
}

const Value* Value::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& [k, v] : *object_)
    if (k == key) return &v;
  return nullptr;
}

void Value::set(const std::string& key, Value v) {
  if (type_ != Type::Object) throw ArgumentError("cannot set key '" + key + "' on " + type_name(type_));
  if (object_.use_count() > 1) object_ = std::make_shared<Object>(*object_);  // copies share until written
  for (auto& [k, old] : *object_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  object_->emplace_back(key, std::move(v));
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through unchanged
        }
    }
  }
  return out + "\"";
}

namespace {
std::string format_number(double d) {
  if (!std::isfinite(d)) throw ArgumentError("JSON cannot hold the number " + std::to_string(d));
  if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // Prefer the shortest form that reads back to the same double (1e-05, not 1.0000000000000001e-05).
  for (int prec = 1; prec <= 17; ++prec) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", prec, d);
    if (std::strtod(shorter, nullptr) == d) return shorter;
  }
  return buf;
}
}  // namespace

void Value::dump_to(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (type_) {
    case Type::Null:
      out += "null";
      break;
    case Type::Bool:
      out += bool_ ? "true" : "false";
      break;
    case Type::Number:
      out += string_.empty() ? format_number(number_) : string_;
      break;
    case Type::String:
      out += quote(string_);
      break;
    case Type::Array: {
      out += '[';
      for (size_t i = 0; i < array_->size(); ++i) {
        if (i) out += indent < 0 ? "," : ",";
        newline(depth + 1);
        (*array_)[i].dump_to(out, indent, depth + 1);
      }
      if (!array_->empty()) newline(depth);
      out += ']';
      break;
    }
    case Type::Object: {
      out += '{';
      for (size_t i = 0; i < object_->size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        out += quote((*object_)[i].first);
        out += indent < 0 ? ":" : ": ";
        (*object_)[i].second.dump_to(out, indent, depth + 1);
      }
      if (!object_->empty()) newline(depth);
      out += '}';
      break;
    }
  }
}

std::string Value::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

// ---------------------------------------------------------------- parser

namespace {

class Parser {
 public:
  Parser(const char* data, size_t size, const std::string& source)
      : p_(data), begin_(data), end_(data + size), source_(source) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (p_ != end_) fail("unexpected characters after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 512;

  [[noreturn]] void fail(const std::string& msg) const {
    throw ArgumentError(source_ + ": invalid JSON at byte " + std::to_string(p_ - begin_) + ": " + msg);
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  void expect_word(const char* word) {
    for (const char* w = word; *w; ++w, ++p_)
      if (p_ >= end_ || *p_ != *w) fail(std::string("expected '") + word + "'");
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    if (p_ >= end_) fail("unexpected end of input");
    switch (*p_) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return Value::string(string());
      case 't':
        expect_word("true");
        return Value::boolean(true);
      case 'f':
        expect_word("false");
        return Value::boolean(false);
      case 'n':
        expect_word("null");
        return Value();
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
        fail(std::string("unexpected character '") + *p_ + "'");
    }
  }

  Value object(int depth) {
    ++p_;  // {
    Value::Object members;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Value::object(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') fail("expected a string key");
      std::string key = string();
      skip_ws();
      if (p_ >= end_ || *p_ != ':') fail("expected ':' after key \"" + key + "\"");
      ++p_;
      skip_ws();
      members.emplace_back(std::move(key), value(depth + 1));
      skip_ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return Value::object(std::move(members));
      }
      fail("expected ',' or '}' in an object");
    }
  }

  Value array(int depth) {
    ++p_;  // [
    Value::Array items;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return Value::array(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(value(depth + 1));
      skip_ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return Value::array(std::move(items));
      }
      fail("expected ',' or ']' in an array");
    }
  }

  Value number() {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ >= end_ || !isdigit(*p_)) fail("expected a digit");
    if (*p_ == '0')
      ++p_;
    else
      while (p_ < end_ && isdigit(*p_)) ++p_;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !isdigit(*p_)) fail("expected a digit after '.'");
      while (p_ < end_ && isdigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !isdigit(*p_)) fail("expected a digit in the exponent");
      while (p_ < end_ && isdigit(*p_)) ++p_;
    }
    // strtod needs a terminated buffer; numbers are short.
    std::string text(start, p_);
    const double d = std::strtod(text.c_str(), nullptr);
    return Value::number(d, std::move(text));
  }

  static bool isdigit(char c) { return c >= '0' && c <= '9'; }

  unsigned hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      char c = *p_;
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      if (p_ >= end_) fail("unterminated string");
      char c = *p_++;
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --p_;
        fail("control character in a string (escape it)");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= end_) fail("unterminated escape");
      char e = *p_++;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') fail("unpaired UTF-16 surrogate in \\u escape");
            p_ += 2;
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired UTF-16 surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --p_;
          fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  std::string source_;
};

}  // namespace

Value parse(const char* data, size_t size, const std::string& source) { return Parser(data, size, source).document(); }

Value parse(const std::string& text, const std::string& source) { return parse(text.data(), text.size(), source); }

Value parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ArgumentError("cannot read " + path + ": no such file or not readable");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

}  // namespace rdpo::json
