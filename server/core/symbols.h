/* symbols.h: return addresses of a process named as glibc's backtrace_symbols
 * names them, "file(function+0x1a) [0x7f..]", from the process's mappings
 * (/proc/PID/maps) and each file's ELF symbol table (.symtab, so static and
 * hidden functions of plugins and the server are named too). */
#ifndef SWX_SYMBOLS_H
#define SWX_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The function of a 64-bit ELF image (size bytes at img) that holds the
 * code at file offset off: its name into name (cut to size) and the
 * distance from its start into *delta. 0, or -ENOENT when the image is not
 * one (or is malformed) or no function holds off. Reads nothing outside
 * the image.
 */
int symbols_elf_find(const void *img, size_t size, uint64_t off, char *name,
                     size_t name_size, uint64_t *delta);

/*
 * Describe the n addresses of process pid, one line each, into out
 * (always NUL-terminated): prefix, "#i ", then "file(function+0x1a)
 * [0xaddr]", "file(+0xoff) [0xaddr]" when no function is known, or
 * "[0xaddr]" outside any file. Lines that do not fit are left out. Not
 * async-signal-safe. The number of lines written.
 */
int symbols_describe(pid_t pid, const uintptr_t *addrs, int n,
                     const char *prefix, char *out, size_t size);

#endif
