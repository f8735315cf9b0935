// The RAII layer over the HDF5 C API: see include/ukrun/runner/hdf5.hpp.
#include "ukrun/runner/hdf5.hpp"

#include <stdexcept>
#include <utility>

namespace ukrun::runner::h5 {

namespace {

/// Collects the description of the innermost (deepest) entry of HDF5's error stack.
herr_t keep_innermost(unsigned, const H5E_error2_t* error, void* out) {
    if (error->desc && *error->desc) *static_cast<std::string*>(out) = error->desc;
    return 0;
}

}  // namespace

void silence_errors() {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

void fail(const std::string& operation) {
    std::string reason;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, &reason);
    H5Eclear2(H5E_DEFAULT);
    throw std::runtime_error(operation + " failed" + (reason.empty() ? "" : ": " + reason));
}

Handle::Handle(hid_t id, Closer close, const std::string& operation)
    : id_(check(id, operation)), close_(close) {}

Handle::Handle(Handle&& other) noexcept
    : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = std::exchange(other.id_, H5I_INVALID_HID);
        close_ = other.close_;
    }
    return *this;
}

void Handle::reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
}

namespace {

/// File access properties: strong close, so H5Fclose really closes the file on disk.
Handle strong_close_access() {
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate(file access)");
    check(H5Pset_fclose_degree(fapl.id(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
    return fapl;
}

}  // namespace

Handle create_file(const std::string& path) {
    const Handle fapl = strong_close_access();
    return Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose,
                  "H5Fcreate " + path);
}

Handle open_file(const std::string& path, bool writable) {
    const Handle fapl = strong_close_access();
    return Handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.id()),
                  H5Fclose, "H5Fopen " + path);
}

Handle open_or_create_group(hid_t loc, const std::string& name) {
    if (exists(loc, name)) return open_group(loc, name);
    return Handle(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                  "H5Gcreate " + name);
}

Handle open_group(hid_t loc, const std::string& name) {
    return Handle(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose, "H5Gopen " + name);
}

Handle open_dataset(hid_t loc, const std::string& name) {
    return Handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen " + name);
}

bool exists(hid_t loc, const std::string& name) {
    return check(H5Lexists(loc, name.c_str(), H5P_DEFAULT), "H5Lexists " + name) > 0;
}

Handle string_type(std::size_t bytes) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy(string)");
    check(H5Tset_size(type.id(), bytes), "H5Tset_size");
    check(H5Tset_strpad(type.id(), H5T_STR_NULLTERM), "H5Tset_strpad");
    check(H5Tset_cset(type.id(), H5T_CSET_ASCII), "H5Tset_cset");
    return type;
}

CompoundType::CompoundType(std::size_t bytes)
    : type_(H5Tcreate(H5T_COMPOUND, bytes), H5Tclose, "H5Tcreate(compound)") {}

CompoundType& CompoundType::add(const char* name, std::size_t offset, hid_t native_type) {
    check(H5Tinsert(type_.id(), name, offset, native_type), std::string("H5Tinsert ") + name);
    return *this;
}

CompoundType& CompoundType::add_string(const char* name, std::size_t offset, std::size_t bytes) {
    const Handle type = string_type(bytes);
    return add(name, offset, type.id());
}

void write_text(hid_t loc, const std::string& name, const std::string& text) {
    const Handle type = string_type(text.size() + 1);
    const Handle space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate(scalar)");
    const Handle dataset(
        H5Dcreate2(loc, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Dclose, "H5Dcreate " + name);
    check(H5Dwrite(dataset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, text.c_str()),
          "H5Dwrite " + name);
}

std::string read_text(hid_t loc, const std::string& name) {
    const Handle dataset = open_dataset(loc, name);
    const Handle file_type(H5Dget_type(dataset.id()), H5Tclose, "H5Dget_type " + name);
    if (check(H5Tis_variable_str(file_type.id()), "H5Tis_variable_str " + name) > 0) {
        const Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy(string)");
        check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size(variable)");
        char* text = nullptr;
        check(H5Dread(dataset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text),
              "H5Dread " + name);
        std::string out = text ? text : "";
        H5free_memory(text);
        return out;
    }
    const std::size_t bytes = H5Tget_size(file_type.id());
    if (bytes == 0) fail("H5Tget_size " + name);
    const Handle type = string_type(bytes);
    std::vector<char> buffer(bytes + 1, '\0');
    check(H5Dread(dataset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
          "H5Dread " + name);
    return std::string(buffer.data());
}

namespace {

/// Opens attribute `name` on `loc` for writing with `type`, deleting an earlier one first.
Handle replace_attribute(hid_t loc, const std::string& name, hid_t type) {
    if (check(H5Aexists(loc, name.c_str()), "H5Aexists " + name) > 0) {
        check(H5Adelete(loc, name.c_str()), "H5Adelete " + name);
    }
    const Handle space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate(scalar)");
    return Handle(H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                  H5Aclose, "H5Acreate " + name);
}

}  // namespace

void write_int_attribute(hid_t loc, const std::string& name, std::int64_t value) {
    const Handle attribute = replace_attribute(loc, name, H5T_STD_I64LE);
    check(H5Awrite(attribute.id(), H5T_NATIVE_INT64, &value), "H5Awrite " + name);
}

void write_string_attribute(hid_t loc, const std::string& name, const std::string& value) {
    const Handle type = string_type(value.size() + 1);
    const Handle attribute = replace_attribute(loc, name, type.id());
    check(H5Awrite(attribute.id(), type.id(), value.c_str()), "H5Awrite " + name);
}

std::int64_t read_int_attribute(hid_t loc, const std::string& name) {
    const Handle attribute(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose, "H5Aopen " + name);
    std::int64_t value = 0;
    check(H5Aread(attribute.id(), H5T_NATIVE_INT64, &value), "H5Aread " + name);
    return value;
}

hsize_t row_count(hid_t dataset) {
    const Handle space(H5Dget_space(dataset), H5Sclose, "H5Dget_space");
    if (check(H5Sget_simple_extent_ndims(space.id()), "H5Sget_simple_extent_ndims") != 1) {
        throw std::runtime_error("expected a 1-D table");
    }
    hsize_t rows = 0;
    check(H5Sget_simple_extent_dims(space.id(), &rows, nullptr), "H5Sget_simple_extent_dims");
    return rows;
}

}  // namespace ukrun::runner::h5
