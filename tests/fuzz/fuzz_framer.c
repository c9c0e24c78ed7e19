/* fuzz_framer.c: libFuzzer target for framer_next (EOF and length modes):
 * whole-buffer and piecewise feeding must agree, within bounds. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/framer.h"

/*
 * Input: [mode][a][loff][boff][max_lo][max_hi][eof bytes][stream]. Small
 * max lengths (1..1024) are picked on purpose so the limits are reached.
 * EOF mode (mode & 1): a % 10 delimiter bytes (0 and 9 test the refusals).
 * Length mode: type letter a % 13 (the 13th is invalid), offsets mod 32/64.
 */
static int make_cfg(const uint8_t **data, size_t *size, framer_cfg_t *cfg)
{
    static const char types[] = "cCsSnvlLNVqQ?";
    const uint8_t *d = *data;
    if (*size < 6)
        return -1;
    size_t max = 1 + d[4] + ((size_t)(d[5] & 3) << 8);
    size_t skip = 6 + ((d[0] & 1) ? d[1] % 10 : 0);
    if (*size < skip)
        return -1;
    *data += skip;
    *size -= skip;
    if (d[0] & 1)
        return framer_cfg_eof(cfg, d + 6, d[1] % 10, max, NULL);
    return framer_cfg_length(cfg, types[d[1] % 13], d[2] % 32, d[3] % 64, max,
                             NULL);
}

/* One call on an exactly-sized copy, so ASan catches any read past len. */
static ssize_t next_exact(const framer_cfg_t *cfg, const uint8_t *p, size_t len,
                          size_t *scan)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    ssize_t r = framer_next(cfg, copy, len, scan);
    free(copy);
    assert(r <= (ssize_t)len);
    assert(r >= 0 || r == -EMSGSIZE || r == -EBADMSG);
    if (r > 0)
        assert((size_t)r <= cfg->package_max_length);
    return r;
}

static void check_message(const framer_cfg_t *cfg, const uint8_t *p, size_t n)
{
    if (cfg->kind != FRAMER_EOF)
        return;
    size_t el = cfg->package_eof_len;
    assert(n >= el && memcmp(p + n - el, cfg->package_eof, el) == 0);
    /* The first delimiter ends the message: none earlier. */
    assert(memmem(p, n - 1, cfg->package_eof, el) == NULL);
}

/* Run the stream in pieces of the given sizes; record message lengths. */
static ssize_t run(const framer_cfg_t *cfg, const uint8_t *s, size_t len,
                   const uint8_t *steps, size_t nsteps, size_t *lens, size_t *n)
{
    size_t have = 0, front = 0, scan = 0, k = 0;
    ssize_t r = 0;
    *n = 0;
    while (have < len) {
        size_t step = nsteps ? 1 + steps[k++ % nsteps] % 64 : len;
        have = len - have < step ? len : have + step;
        while ((r = next_exact(cfg, s + front, have - front, &scan)) > 0) {
            check_message(cfg, s + front, (size_t)r);
            lens[(*n)++] = (size_t)r;
            front += (size_t)r;
        }
        if (r < 0)
            return r;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    framer_cfg_t cfg;
    const uint8_t *steps = data;
    size_t nsteps = size < 8 ? size : 8;
    if (make_cfg(&data, &size, &cfg) != 0)
        return 0;
    size_t *a = malloc((size + 1) * sizeof(size_t));
    size_t *b = malloc((size + 1) * sizeof(size_t));
    size_t na, nb;
    ssize_t ra = run(&cfg, data, size, NULL, 0, a, &na);
    ssize_t rb = run(&cfg, data, size, steps, nsteps, b, &nb);
    /* Piecewise feeding meets the same messages and the same verdict. */
    assert(ra == rb);
    assert(na == nb && memcmp(a, b, na * sizeof(size_t)) == 0);
    free(a);
    free(b);
    return 0;
}
