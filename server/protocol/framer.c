/* framer.c: Swoole-compatible message framing (raw, EOF-split, length-prefixed). */
#include "protocol/framer.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

int framer_cfg_raw(framer_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = FRAMER_RAW;
    cfg->package_max_length = FRAMER_DEFAULT_MAX_LENGTH;
    return 0;
}

static int cfg_fail(const char **err, const char *msg)
{
    if (err != NULL)
        *err = msg;
    return -EINVAL;
}

int framer_cfg_eof(framer_cfg_t *cfg, const void *eof, size_t eof_len,
                   size_t max_length, const char **err)
{
    if (eof_len == 0 || eof_len > FRAMER_EOF_MAX)
        return cfg_fail(err, "package_eof must be 1 to 8 bytes");
    if (max_length < eof_len || max_length > SSIZE_MAX)
        return cfg_fail(err, "package_max_length must hold package_eof");
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = FRAMER_EOF;
    memcpy(cfg->package_eof, eof, eof_len);
    cfg->package_eof_len = eof_len;
    cfg->package_max_length = max_length;
    return 0;
}

static size_t type_size(char type)
{
    switch (type) {
    case 'c': case 'C':
        return 1;
    case 's': case 'S': case 'n': case 'v':
        return 2;
    case 'l': case 'L': case 'N': case 'V':
        return 4;
    case 'q': case 'Q':
        return 8;
    default:
        return 0;
    }
}

int framer_cfg_length(framer_cfg_t *cfg, char type, size_t length_offset,
                      size_t body_offset, size_t max_length, const char **err)
{
    size_t size = type_size(type);
    if (size == 0)
        return cfg_fail(err, "package_length_type must be one of cCsSnvlLNVqQ");
    if (max_length == 0 || max_length > SSIZE_MAX)
        return cfg_fail(err, "package_max_length out of range");
    if (length_offset > max_length || size > max_length - length_offset)
        return cfg_fail(err, "the length field must fit in package_max_length");
    if (body_offset > max_length)
        return cfg_fail(err, "package_body_offset exceeds package_max_length");
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = FRAMER_LENGTH;
    cfg->package_length_type = type;
    cfg->package_length_size = size;
    cfg->package_length_offset = length_offset;
    cfg->package_body_offset = body_offset;
    cfg->package_max_length = max_length;
    return 0;
}

/* Read the field; 0 or -EBADMSG when a signed type holds a negative value. */
static int read_length(char type, const char *p, uint64_t *out)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int64_t v;

    switch (type) {
    case 'c': v = (int8_t)p[0]; break;
    case 'C': v = (uint8_t)p[0]; break;
    case 's': memcpy(&u16, p, 2); v = (int16_t)u16; break;
    case 'S': memcpy(&u16, p, 2); v = u16; break;
    case 'n': memcpy(&u16, p, 2); v = be16toh(u16); break;
    case 'v': memcpy(&u16, p, 2); v = le16toh(u16); break;
    case 'l': memcpy(&u32, p, 4); v = (int32_t)u32; break;
    case 'L': memcpy(&u32, p, 4); v = u32; break;
    case 'N': memcpy(&u32, p, 4); v = be32toh(u32); break;
    case 'V': memcpy(&u32, p, 4); v = le32toh(u32); break;
    case 'q': memcpy(&u64, p, 8); v = (int64_t)u64; break;
    default: memcpy(&u64, p, 8); *out = u64; return 0; /* 'Q' */
    }
    if (v < 0)
        return -EBADMSG;
    *out = (uint64_t)v;
    return 0;
}

static ssize_t next_length(const framer_cfg_t *cfg, const char *data, size_t len)
{
    size_t field_end = cfg->package_length_offset + cfg->package_length_size;
    if (len < field_end)
        return 0;
    uint64_t body;
    if (read_length(cfg->package_length_type,
                    data + cfg->package_length_offset, &body) < 0)
        return -EBADMSG;
    /* body_offset <= max_length, so this compare cannot overflow. */
    if (body > cfg->package_max_length - cfg->package_body_offset)
        return -EMSGSIZE;
    size_t total = cfg->package_body_offset + (size_t)body;
    /* A message must contain its own length field, or the stream is lost. */
    if (total < field_end)
        return -EBADMSG;
    return len < total ? 0 : (ssize_t)total;
}

/*
 * Search only what has not been searched, minus eof_len - 1 bytes of overlap
 * for a delimiter split across calls, and never past max_length.
 */
static ssize_t next_eof(const framer_cfg_t *cfg, const char *data, size_t len,
                        size_t *scan)
{
    size_t elen = cfg->package_eof_len;
    size_t limit = len < cfg->package_max_length ? len : cfg->package_max_length;
    size_t from = scan != NULL && *scan <= limit ? *scan : 0;
    const char *hit = memmem(data + from, limit - from, cfg->package_eof, elen);
    size_t resume = 0;
    ssize_t rc = 0;
    if (hit != NULL)
        rc = (ssize_t)(hit - data + elen);
    else if (len >= cfg->package_max_length)
        rc = -EMSGSIZE;
    else if (limit >= elen)
        resume = limit - elen + 1;
    if (scan != NULL)
        *scan = resume;
    return rc;
}

ssize_t framer_next(const framer_cfg_t *cfg, const char *data, size_t len,
                    size_t *scan)
{
    switch (cfg->kind) {
    case FRAMER_EOF:
        return next_eof(cfg, data, len, scan);
    case FRAMER_LENGTH:
        return next_length(cfg, data, len);
    default:
        return len > SSIZE_MAX ? SSIZE_MAX : (ssize_t)len;
    }
}

int framer_announced(const framer_cfg_t *cfg, const char *data, size_t len,
                     uint64_t *total)
{
    if (cfg->kind != FRAMER_LENGTH ||
        len < cfg->package_length_offset + cfg->package_length_size)
        return -1;
    uint64_t body;
    if (read_length(cfg->package_length_type,
                    data + cfg->package_length_offset, &body) < 0)
        return -1;
    *total = body > UINT64_MAX - cfg->package_body_offset
                 ? UINT64_MAX
                 : body + cfg->package_body_offset;
    return 0;
}
