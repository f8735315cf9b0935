// A small RAII layer over the HDF5 C API (serial 1.10): owned handles that close themselves,
// and every failing call turned into a std::runtime_error naming the operation and HDF5's reason.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ukrun::runner::h5 {

/// Turns off HDF5's printing of its error stack to stderr; failures become exceptions instead.
void silence_errors();

/// Throws std::runtime_error "`operation` failed: <HDF5's innermost reason>".
[[noreturn]] void fail(const std::string& operation);

/// Returns `result` (an hid_t, herr_t or htri_t); a negative value throws via fail(operation).
template <class T>
T check(T result, const std::string& operation) {
    if (result < 0) fail(operation);
    return result;
}

/// An owned HDF5 identifier (file, group, dataset, dataspace, type, attribute or property
/// list), closed with its own close function when the handle goes out of scope.
class Handle {
  public:
    using Closer = herr_t (*)(hid_t);

    Handle() = default;
    /// Takes ownership of `id`; a negative id throws, naming `operation`.
    Handle(hid_t id, Closer close, const std::string& operation);
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    /// The identifier, for passing to the C API; the handle keeps ownership.
    hid_t id() const { return id_; }
    /// Closes the identifier now (errors while closing are ignored: nothing can be done).
    void reset();

  private:
    hid_t id_ = H5I_INVALID_HID;
    Closer close_ = nullptr;
};

/// Creates (truncating) an HDF5 file whose close is strong: all its objects close with it.
Handle create_file(const std::string& path);
/// Opens an existing HDF5 file read-only or read-write; throws naming the path on failure.
Handle open_file(const std::string& path, bool writable);
/// Opens the group or creates it when missing.
Handle open_or_create_group(hid_t loc, const std::string& name);
/// Opens an existing group.
Handle open_group(hid_t loc, const std::string& name);
/// Opens an existing dataset.
Handle open_dataset(hid_t loc, const std::string& name);
/// True when the link `name` (one path component) exists below `loc`.
bool exists(hid_t loc, const std::string& name);

/// A fixed-length, NUL-terminated ASCII string type of `bytes` bytes (including the NUL).
Handle string_type(std::size_t bytes);

/// Builds a compound type member by member; offsets are those of the C++ row struct.
class CompoundType {
  public:
    /// An empty compound type of `bytes` bytes (sizeof the row struct).
    explicit CompoundType(std::size_t bytes);
    /// Adds a member of a native type (H5T_NATIVE_INT64, H5T_NATIVE_DOUBLE, ...).
    CompoundType& add(const char* name, std::size_t offset, hid_t native_type);
    /// Adds a fixed-length string member of `bytes` bytes (a char array in the row struct).
    CompoundType& add_string(const char* name, std::size_t offset, std::size_t bytes);
    /// The type identifier.
    hid_t id() const { return type_.id(); }

  private:
    Handle type_;
};

/// Writes `text` as a scalar fixed-length string dataset `name` below `loc` (any length).
void write_text(hid_t loc, const std::string& name, const std::string& text);
/// Reads a scalar string dataset written by write_text (fixed or variable length).
std::string read_text(hid_t loc, const std::string& name);

/// Writes an integer attribute `name` on the object `loc`, replacing any earlier value.
void write_int_attribute(hid_t loc, const std::string& name, std::int64_t value);
/// Writes a string attribute `name` on the object `loc` (short texts only: under 64 KiB).
void write_string_attribute(hid_t loc, const std::string& name, const std::string& value);
/// Reads an integer attribute; throws when it is missing.
std::int64_t read_int_attribute(hid_t loc, const std::string& name);

/// Number of elements along the single dimension of a 1-D dataset.
hsize_t row_count(hid_t dataset);

}  // namespace ukrun::runner::h5
