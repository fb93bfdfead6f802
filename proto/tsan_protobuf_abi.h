// Forced into every C++ file that sees the generated control API, in the ThreadSanitizer build
// only (proto/CMakeLists.txt: -include, a usage requirement of hijack_proto).
//
// Why: protobuf 3.21's map_field.h gives MapFieldBase two extra members (seq1_, seq2_, a
// debugging aid for TSan) when __SANITIZE_THREAD__ is defined, so the class is 80 bytes in a
// file compiled with -fsanitize=thread and 72 bytes in Debian's libprotobuf.so.32, which is not.
// The library's out-of-line members (MapFieldBase::Destruct, SyncMapWithRepeatedField,
// SetMapDirty, ...) then read arena_, repeated_field_ and state_ 8 bytes off, and the generated
// messages' inline accessors (ModuleInfo::mutable_settings, a map<string, string>) disagree with
// their own out-of-line code (control.pb.cc is built without the sanitizer) about where a
// message's fields are: under TSan, hijackd serve crashed building a ListModules answer. The
// headers must describe the library that is linked, so map_field.h is read here, once, as the
// library was built: without the macro. Its include guard makes every later #include of it a
// no-op; the macro is back for everything after (listener_handover.cc tests it).
//
// Example: g++ -fsanitize=thread -include proto/tsan_protobuf_abi.h ...
//
// Threading: none (a preprocessor arrangement).
#ifndef HIJACK_PROTO_TSAN_PROTOBUF_ABI_H_
#define HIJACK_PROTO_TSAN_PROTOBUF_ABI_H_

#pragma push_macro("__SANITIZE_THREAD__")
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#pragma pop_macro("__SANITIZE_THREAD__")

#endif  // HIJACK_PROTO_TSAN_PROTOBUF_ABI_H_
