#pragma once
// Errors raised by PoolScope executors and futures. Names follow Python's
// concurrent.futures so the contract reads the same in both languages.

#include <exception>
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

/// A task on a worker process threw an exception of a type this process
/// cannot rebuild (anything but the standard <stdexcept> types and
/// PoolScope's own errors, which come back as themselves). what() reads
/// "<type>: <message>", like the last line of a Python traceback.
class RemoteError : public Error {
public:
    RemoteError(std::string type, std::string message);
    /// The remote exception's demangled type name, e.g. "my::ParseError".
    const std::string& type() const noexcept { return m_type; }
    /// Its what() text.
    const std::string& message() const noexcept { return m_message; }

private:
    std::string m_type;
    std::string m_message;
};

/// Text of an exception_ptr, for logs and telemetry ("<type>: <what>").
std::string describeException(const std::exception_ptr& e);

/// The exception a worker process reported as (type, message), rebuilt with
/// its own type when that is a standard <stdexcept> type or a PoolScope
/// error, else as a RemoteError. Used by the process pool.
std::exception_ptr rebuildException(const std::string& type, const std::string& message);

} // namespace poolscope
