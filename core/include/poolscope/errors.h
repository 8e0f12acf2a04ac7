#pragma once
// Errors raised by PoolScope executors and futures. Names follow Python's
// concurrent.futures so the contract reads the same in both languages.

#include <stdexcept>
#include <string>

namespace poolscope {

/// Base of every error PoolScope itself raises (task exceptions keep their own type).
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// result()/exception() on a cancelled future (Python: CancelledError).
class CancelledError : public Error {
public:
    CancelledError()
        : Error("the future was cancelled")
    {}
    using Error::Error;
};

/// A bounded wait ran out (Python: TimeoutError). The task keeps running.
class TimeoutError : public Error {
public:
    using Error::Error;
};

/// submit() after shutdown() (Python raises RuntimeError with this text).
class ShutdownError : public Error {
public:
    ShutdownError()
        : Error("cannot schedule new futures after shutdown")
    {}
};

/// The pool can no longer run work, e.g. its initializer failed
/// (Python: BrokenExecutor / BrokenThreadPool / BrokenProcessPool).
class BrokenExecutor : public Error {
public:
    using Error::Error;
};

/// Bad argument to an executor API (Python: ValueError / TypeError).
class InvalidArgument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// Text of an exception_ptr, for logs and telemetry ("<type>: <what>").
std::string describeException(const std::exception_ptr& e);

} // namespace poolscope
