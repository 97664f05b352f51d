// Result<T>: a value or a human-readable error, for parsers and set-up steps that must report
// what went wrong without throwing (much of this code runs inside C callbacks).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace t2s::net {

template <typename T>
class Result {
 public:
  static Result success(T value) { return Result(std::move(value), {}); }
  static Result failure(std::string error) { return Result(std::nullopt, std::move(error)); }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const std::string& error() const { return error_; }

 private:
  Result(std::optional<T> value, std::string error)
      : value_(std::move(value)), error_(std::move(error)) {}
  std::optional<T> value_;
  std::string error_;
};

}  // namespace t2s::net
