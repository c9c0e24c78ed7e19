/* symbols.c: return addresses of a process named from its mappings and the
 * ELF symbol tables of the files mapped there, for the backtraces of
 * stuck and slow callbacks. */
#include "core/symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYMBOLS_PATH_MAX 512
#define SYMBOLS_NAME_MAX 128
/* A file bigger than this is not mapped to look for names. */
#define SYMBOLS_FILE_MAX (1ULL << 31)

/* Where an address lies: a mapping of a file at an offset, or nothing. */
typedef struct frame {
    uintptr_t start;
    uint64_t offset;
    char path[SYMBOLS_PATH_MAX];
} frame_t;

/* A copy of len bytes at off of the image into out: 0, or -1 when they
 * are not all inside it. Copies, so no unaligned access is made. */
static int elf_read(const void *img, size_t size, uint64_t off, void *out,
                    size_t len)
{
    if (off > size || len > size - off)
        return -1;
    memcpy(out, (const char *)img + off, len);
    return 0;
}

/* The virtual address of file offset off, through the PT_LOAD segment
 * that maps it; 0 and -1 when none does. */
static int elf_vaddr(const void *img, size_t size, const Elf64_Ehdr *eh,
                     uint64_t off, uint64_t *vaddr)
{
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;
        if (elf_read(img, size, eh->e_phoff + (uint64_t)i * sizeof(ph), &ph,
                     sizeof(ph)) < 0)
            return -1;
        if (ph.p_type == PT_LOAD && off >= ph.p_offset &&
            off - ph.p_offset < ph.p_filesz) {
            *vaddr = off - ph.p_offset + ph.p_vaddr;
            return 0;
        }
    }
    return -1;
}

/* The best function symbol for vaddr so far. */
typedef struct best {
    uint64_t value;
    int sized;           /* vaddr lies inside its st_size */
    uint64_t str_off;    /* its name in the image */
    uint64_t str_end;
    int found;
} best_t;

static void elf_consider(const Elf64_Sym *s, uint64_t vaddr,
                         const Elf64_Shdr *strs, best_t *b)
{
    int type = ELF64_ST_TYPE(s->st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
        s->st_shndx == SHN_UNDEF || s->st_value > vaddr ||
        s->st_name >= strs->sh_size)
        return;
    int sized = s->st_size > 0 && vaddr - s->st_value < s->st_size;
    if (s->st_size > 0 && !sized)
        return;
    /* One that holds vaddr beats a size-less one below it. */
    if (b->found && (b->sized > sized ||
                     (b->sized == sized && b->value >= s->st_value)))
        return;
    *b = (best_t){s->st_value, sized, strs->sh_offset + s->st_name,
                  strs->sh_offset + strs->sh_size, 1};
}

/* The symbols of section sh (a SYMTAB or DYNSYM) for vaddr. */
static void elf_search(const void *img, size_t size, const Elf64_Ehdr *eh,
                       const Elf64_Shdr *sh, uint64_t vaddr, best_t *b)
{
    Elf64_Shdr strs;
    if (sh->sh_link >= eh->e_shnum ||
        elf_read(img, size, eh->e_shoff + sh->sh_link * sizeof(strs), &strs,
                 sizeof(strs)) < 0 ||
        strs.sh_offset > size || strs.sh_size > size - strs.sh_offset)
        return;
    uint64_t n = sh->sh_size / sizeof(Elf64_Sym);
    for (uint64_t i = 0; i < n; i++) {
        Elf64_Sym s;
        if (elf_read(img, size, sh->sh_offset + i * sizeof(s), &s,
                     sizeof(s)) < 0)
            return;
        elf_consider(&s, vaddr, &strs, b);
    }
}

static int elf_name(const void *img, const best_t *b, char *name,
                    size_t name_size)
{
    const char *s = (const char *)img + b->str_off;
    size_t max = (size_t)(b->str_end - b->str_off);
    size_t len = strnlen(s, max);
    if (len == max || len == 0 || name_size == 0)
        return -ENOENT;
    snprintf(name, name_size, "%.*s", (int)len, s);
    return 0;
}

int symbols_elf_find(const void *img, size_t size, uint64_t off, char *name,
                     size_t name_size, uint64_t *delta)
{
    Elf64_Ehdr eh;
    uint64_t vaddr;
    if (elf_read(img, size, 0, &eh, sizeof(eh)) < 0 ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        elf_vaddr(img, size, &eh, off, &vaddr) < 0)
        return -ENOENT;
    /* The full table first: it has the static and hidden functions. */
    static const uint32_t kinds[] = {SHT_SYMTAB, SHT_DYNSYM};
    for (int k = 0; k < 2; k++) {
        best_t b = {0};
        for (unsigned i = 0; i < eh.e_shnum; i++) {
            Elf64_Shdr sh;
            if (elf_read(img, size, eh.e_shoff + (uint64_t)i * sizeof(sh),
                         &sh, sizeof(sh)) < 0)
                return -ENOENT;
            if (sh.sh_type == kinds[k])
                elf_search(img, size, &eh, &sh, vaddr, &b);
        }
        if (b.found && elf_name(img, &b, name, name_size) == 0) {
            *delta = vaddr - b.value;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- a process's mappings ---- */

/* Each address's mapping, from /proc/PID/maps. 0 or -errno. */
static int symbols_map(pid_t pid, const uintptr_t *addrs, int n,
                       frame_t *frames)
{
    char path[64], line[SYMBOLS_PATH_MAX + 128];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long start, end;
        unsigned long long off;
        int at = 0;
        if (sscanf(line, "%lx-%lx %*s %llx %*s %*s %n", &start, &end, &off,
                   &at) < 3 || at == 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        for (int i = 0; i < n; i++) {
            if (addrs[i] < start || addrs[i] >= end ||
                frames[i].path[0] != '\0')
                continue;
            frames[i].start = start;
            frames[i].offset = off;
            snprintf(frames[i].path, sizeof(frames[i].path), "%s",
                     line + at);
        }
    }
    fclose(f);
    return 0;
}

/* A file mapped whole for reading, the last one asked for kept. */
typedef struct image {
    char path[SYMBOLS_PATH_MAX];
    void *p;
    size_t size;
} image_t;

static void image_drop(image_t *im)
{
    if (im->p != NULL)
        munmap(im->p, im->size);
    im->p = NULL;
    im->path[0] = '\0';
}

static const image_t *image_get(image_t *im, const char *path)
{
    if (strcmp(im->path, path) == 0)
        return im->p != NULL ? im : NULL;
    image_drop(im);
    snprintf(im->path, sizeof(im->path), "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (unsigned long long)st.st_size < SYMBOLS_FILE_MAX) {
        im->p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        im->size = (size_t)st.st_size;
        if (im->p == MAP_FAILED)
            im->p = NULL;
    }
    close(fd);
    return im->p != NULL ? im : NULL;
}

/* One frame's text: the file (and function) holding addr. */
static int symbols_frame(image_t *im, const frame_t *fr, uintptr_t addr,
                         int caller, char *out, size_t size)
{
    char name[SYMBOLS_NAME_MAX];
    uint64_t delta;
    if (fr->path[0] != '/')
        return snprintf(out, size, "[%#" PRIxPTR "]", addr);
    /* A return address may lie past its function's end (a call as the
     * last instruction): the call itself is one byte before it. */
    uint64_t off = addr - fr->start + fr->offset - (caller ? 1 : 0);
    const image_t *img = strstr(fr->path, " (deleted)") != NULL
                             ? NULL : image_get(im, fr->path);
    if (img != NULL && symbols_elf_find(img->p, img->size, off, name,
                                        sizeof(name), &delta) == 0)
        return snprintf(out, size, "%s(%s+%#" PRIx64 ") [%#" PRIxPTR "]",
                        fr->path, name, delta + (caller ? 1 : 0), addr);
    return snprintf(out, size, "%s(+%#" PRIx64 ") [%#" PRIxPTR "]", fr->path,
                    off + (caller ? 1 : 0), addr);
}

int symbols_describe(pid_t pid, const uintptr_t *addrs, int n,
                     const char *prefix, char *out, size_t size)
{
    if (size == 0)
        return 0;
    out[0] = '\0';
    frame_t *frames = n > 0 ? calloc((size_t)n, sizeof(*frames)) : NULL;
    if (frames == NULL)
        return 0;
    symbols_map(pid, addrs, n, frames);
    image_t im = {{0}, NULL, 0};
    size_t used = 0;
    int lines = 0;
    for (int i = 0; i < n; i++) {
        char text[SYMBOLS_PATH_MAX + SYMBOLS_NAME_MAX + 64];
        symbols_frame(&im, &frames[i], addrs[i], i > 0, text, sizeof(text));
        int len = snprintf(out + used, size - used, "%s%s#%d %s",
                           lines > 0 ? "\n" : "", prefix, i, text);
        if (len < 0 || (size_t)len >= size - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)len;
        lines++;
    }
    image_drop(&im);
    free(frames);
    return lines;
}
