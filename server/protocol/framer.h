/* framer.h: Swoole-compatible message framing (raw, EOF-split, length-prefixed)
 * over a connection's input buffer. */
#ifndef SWX_FRAMER_H
#define SWX_FRAMER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAMER_EOF_MAX 8
/* Swoole's default package_max_length. */
#define FRAMER_DEFAULT_MAX_LENGTH (2u * 1024 * 1024)

typedef enum framer_kind {
    FRAMER_RAW = 0,  /* whatever arrived is one message */
    FRAMER_EOF,      /* open_eof_split: messages end with package_eof */
    FRAMER_LENGTH,   /* open_length_check: a length field in a fixed header */
} framer_kind_t;

/*
 * Build it with framer_cfg_raw/eof/length, which validate; framer_next trusts
 * it. Length mode: a message is package_body_offset + the value of the
 * length field, which is package_length_type at package_length_offset:
 *   c/C  1 byte, signed/unsigned
 *   s/S  2 bytes, host order (little-endian on x86-64/arm64), signed/unsigned
 *   n    2 bytes, big-endian, unsigned        v  2 bytes, little-endian
 *   l/L  4 bytes, host order, signed/unsigned
 *   N    4 bytes, big-endian, unsigned        V  4 bytes, little-endian
 *   q/Q  8 bytes, host order, signed/unsigned
 */
typedef struct framer_cfg {
    framer_kind_t kind;
    char package_eof[FRAMER_EOF_MAX];
    size_t package_eof_len;
    char package_length_type;
    size_t package_length_size;  /* derived from the type letter */
    size_t package_length_offset;
    size_t package_body_offset;
    size_t package_max_length;   /* largest message, header included */
} framer_cfg_t;

/* Every message is the whole input. Always 0. */
int framer_cfg_raw(framer_cfg_t *cfg);

/*
 * Messages end with eof (1..8 bytes) and are at most max_length bytes,
 * delimiter included. 0, or -EINVAL with *err naming the problem.
 */
int framer_cfg_eof(framer_cfg_t *cfg, const void *eof, size_t eof_len,
                   size_t max_length, const char **err);

/*
 * Length-prefixed messages. The length field must fit inside max_length;
 * it may lie before or after body_offset (as in Swoole). 0, or -EINVAL with
 * *err naming the problem.
 */
int framer_cfg_length(framer_cfg_t *cfg, char type, size_t length_offset,
                      size_t body_offset, size_t max_length, const char **err);

/*
 * Is there a complete message at data[0..len)? Returns its length (> 0,
 * EOF mode includes the delimiter), 0 when more bytes are needed,
 * -EMSGSIZE when the message is or will be longer than package_max_length,
 * or -EBADMSG when the length field is negative (signed types) or too small
 * to cover the length field itself. Errors are final for the connection.
 *
 * *scan is per-connection state for EOF mode: set it to 0 once, then pass
 * it back with the same buffer front (more bytes appended) so the delimiter
 * search resumes where it stopped; it is reset to 0 whenever a message is
 * returned, matching a buffer whose front is then consumed (NULL: search
 * from the start every time). Raw mode returns len (0 when empty).
 */
ssize_t framer_next(const framer_cfg_t *cfg, const char *data, size_t len,
                    size_t *scan);

/*
 * Length mode: the size of the message at data[0..len) as its length field
 * announces it (package_body_offset + the field, saturated at UINT64_MAX),
 * for a log line once framer_next said -EMSGSIZE. 0, or -1 when the field
 * is incomplete, negative, or this is not length mode.
 */
int framer_announced(const framer_cfg_t *cfg, const char *data, size_t len,
                     uint64_t *total);

#endif
