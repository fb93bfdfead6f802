#include "daemon/exec_page/elf_needed.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "hijack/unique_fd.h"

namespace hijack::exec_page {
namespace {

// Bounds the work a crafted file can cause: a real executable has a few dozen of each.
constexpr size_t kMaxProgramHeaders = 256;
constexpr size_t kMaxDynamicEntries = 4096;
constexpr size_t kMaxName = 4096;

bool ReadAt(int fd, void* out, size_t size, uint64_t offset) {
  return pread(fd, out, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
}

// The file offset of virtual address `vaddr`, through the PT_LOAD segment that maps it.
bool FileOffset(const std::vector<Elf64_Phdr>& phdrs, uint64_t vaddr, uint64_t* offset) {
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
      *offset = ph.p_offset + (vaddr - ph.p_vaddr);
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::vector<std::string>> NeededLibraries(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError(errno, "open " + path);
  }
  Elf64_Ehdr eh;
  if (!ReadAt(fd.get(), &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return std::vector<std::string>{};
  }
  if (eh.e_phnum > kMaxProgramHeaders) {
    return MakeError(path + ": " + std::to_string(eh.e_phnum) + " program headers");
  }
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  if (!ReadAt(fd.get(), phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr), eh.e_phoff)) {
    return MakeError(path + ": program headers beyond the end of the file");
  }
  const Elf64_Phdr* dynamic = nullptr;
  for (const auto& ph : phdrs) {
    if (ph.p_type == PT_DYNAMIC) {
      dynamic = &ph;
    }
  }
  if (dynamic == nullptr) {
    return std::vector<std::string>{};
  }
  const size_t count = std::min<size_t>(dynamic->p_filesz / sizeof(Elf64_Dyn), kMaxDynamicEntries);
  std::vector<Elf64_Dyn> dyn(count);
  if (!ReadAt(fd.get(), dyn.data(), count * sizeof(Elf64_Dyn), dynamic->p_offset)) {
    return MakeError(path + ": dynamic section beyond the end of the file");
  }
  uint64_t strtab = 0;
  std::vector<uint64_t> names;
  for (const auto& d : dyn) {
    if (d.d_tag == DT_NULL) {
      break;
    }
    if (d.d_tag == DT_STRTAB) {
      strtab = d.d_un.d_ptr;
    } else if (d.d_tag == DT_NEEDED) {
      names.push_back(d.d_un.d_val);
    }
  }
  uint64_t strtab_offset = 0;
  if (!names.empty() && !FileOffset(phdrs, strtab, &strtab_offset)) {
    return MakeError(path + ": DT_STRTAB outside every loaded segment");
  }
  std::vector<std::string> out;
  for (uint64_t name : names) {
    char buf[kMaxName];
    const ssize_t n = pread(fd.get(), buf, sizeof buf, static_cast<off_t>(strtab_offset + name));
    const void* end = n > 0 ? std::memchr(buf, 0, static_cast<size_t>(n)) : nullptr;
    if (end == nullptr) {
      return MakeError(path + ": DT_NEEDED name at string table offset " + std::to_string(name) +
                       " is not terminated");
    }
    out.emplace_back(buf);
  }
  return out;
}

std::string FirstComingSanitizer(const std::vector<std::string>& needed) {
  for (const auto& name : needed) {
    if (name.starts_with("libasan.so") || name.starts_with("libclang_rt.asan")) {
      return name;
    }
  }
  return "";
}

}  // namespace hijack::exec_page
