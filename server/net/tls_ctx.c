/* tls_ctx.c: the OpenSSL contexts of TLS listeners: certificates (and one
 * per SNI name), versions, ciphers, client verification, ALPN, session
 * tickets whose keys every thread and process derives alike, and the swap
 * to freshly loaded certificates on a reload. */
#include "net/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"

/* Ticket keys change this often; the previous one still decrypts. */
#define TLS_TICKET_ROTATE 3600
/* Forward-secret AEAD suites only for TLS 1.2 (Mozilla's intermediate). */
#define TLS_DEFAULT_CIPHERS                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* What a listener's default context carries for its callbacks: owned by
 * it (ex_data), so it lives as long as any connection made from it. */
typedef struct tls_bundle {
    int listener;
    unsigned char *alpn;     /* the offer, in ALPN's wire format */
    size_t alpn_len;
    int nsni;
    char **sni_names;
    SSL_CTX **sni_ctx;
} tls_bundle_t;

/* One listener's current context, swapped by a reload. */
typedef struct tls_slot {
    pthread_mutex_t lock;
    SSL_CTX *ctx;
} tls_slot_t;

static const config_t *tls_cfg;
static time_t (*tls_clock)(time_t *) = time; /* tests move the hour */
static shm_t *tls_shm;
static tls_slot_t *tls_slots;
static int tls_bundle_index = -1;
static int tls_listener_index = -1; /* 1 + the listener, on each context */

/* ---- errors ---- */

/* OpenSSL's reasons for the last failure, most specific last. */
static void tls_reason(char *buf, size_t size)
{
    unsigned long e;
    size_t n = 0;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        const char *r = ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e))
                                            : ERR_reason_error_string(e);
        char tmp[64];
        if (r == NULL) {
            snprintf(tmp, sizeof(tmp), "error %lx", e);
            r = tmp;
        }
        /* "system lib" only repeats the errno told before it. */
        if (strstr(buf, r) == NULL && strcmp(r, "system lib") != 0 &&
            n < size)
            n += (size_t)snprintf(buf + n, size - n, "%s%s",
                                  n > 0 ? ": " : "", r);
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "unknown error");
}

/* "listeners[0].ssl_cert_file: cannot ...": the JSON path of a failure,
 * as config errors name them. */
typedef struct tls_err {
    char path[300];
    char msg[512];
} tls_err_t;

static int tls_fail(tls_err_t *err, int listener, const char *sni,
                    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int tls_fail(tls_err_t *err, int listener, const char *sni,
                    const char *key, const char *fmt, ...)
{
    va_list ap;
    if (sni != NULL)
        snprintf(err->path, sizeof(err->path), "listeners[%d].ssl_sni_certs."
                 "%s.%s", listener, sni, key);
    else
        snprintf(err->path, sizeof(err->path), "listeners[%d].%s", listener,
                 key);
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- session tickets ---- */

/* HMAC-SHA256(secret, listener | period | label): the same bytes in every
 * process for the same hour, so no key is ever passed around. */
static void tls_ticket_derive(int listener, uint64_t period, char label,
                              unsigned char out[32])
{
    unsigned char msg[16] = {'s', 'w', 'x', (unsigned char)label};
    unsigned int len = 32;
    memcpy(msg + 4, &listener, sizeof(listener));
    memcpy(msg + 8, &period, sizeof(period));
    HMAC(EVP_sha256(), tls_shm->tls_ticket_secret,
         sizeof(tls_shm->tls_ticket_secret), msg, sizeof(msg), out, &len);
}

/* A listener's ticket keys of one period, derived once per thread (three
 * HMACs, each an algorithm fetch in OpenSSL 3) and kept: a handshake
 * sends two tickets, and each would derive them again. */
typedef struct tls_tkeys {
    unsigned gen; /* tls_tkeys_gen when derived */
    int listener; /* -1: empty */
    uint64_t period;
    unsigned char name[32], aes[32], mac[32];
} tls_tkeys_t;
#define TLS_TKEYS_KEPT 4
static _Thread_local tls_tkeys_t tls_tkeys[TLS_TKEYS_KEPT] = {
    {.listener = -1}, {.listener = -1}, {.listener = -1}, {.listener = -1}};
static _Thread_local int tls_tkeys_next;
/* Moved on whenever the shared secret the keys come from may change
 * (tls_init): the kept keys are derived again. */
static _Atomic unsigned tls_tkeys_gen = 1;

static const tls_tkeys_t *tls_ticket_get(int listener, uint64_t period)
{
    unsigned gen = tls_tkeys_gen;
    for (int i = 0; i < TLS_TKEYS_KEPT; i++)
        if (tls_tkeys[i].gen == gen && tls_tkeys[i].listener == listener &&
            tls_tkeys[i].period == period)
            return &tls_tkeys[i];
    tls_tkeys_t *k = &tls_tkeys[tls_tkeys_next];
    tls_tkeys_next = (tls_tkeys_next + 1) % TLS_TKEYS_KEPT;
    k->gen = gen;
    k->listener = listener;
    k->period = period;
    tls_ticket_derive(listener, period, 'n', k->name);
    tls_ticket_derive(listener, period, 'a', k->aes);
    tls_ticket_derive(listener, period, 'h', k->mac);
    return k;
}

/* AES-256-CBC, fetched once for the process. */
static EVP_CIPHER *tls_ticket_cipher;
static pthread_once_t tls_ticket_cipher_once = PTHREAD_ONCE_INIT;

static void tls_ticket_cipher_fetch(void)
{
    tls_ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
}

static int tls_ticket_keys(EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
                           const tls_tkeys_t *k, const unsigned char *iv,
                           int enc)
{
    OSSL_PARAM params[2];
    pthread_once(&tls_ticket_cipher_once, tls_ticket_cipher_fetch);
    const EVP_CIPHER *aes = tls_ticket_cipher != NULL ? tls_ticket_cipher
                                                      : EVP_aes_256_cbc();
    params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_CipherInit_ex(cctx, aes, NULL, k->aes, iv, enc) == 1 &&
           EVP_MAC_CTX_set_params(hctx, params) == 1 &&
           EVP_MAC_init(hctx, k->mac, sizeof(k->mac), NULL) == 1;
}

/* OpenSSL's ticket key callback: encrypt with this hour's key, decrypt
 * with this hour's or the last (and then ask for a renewed ticket, as
 * after every TLS 1.3 resumption). */
static int tls_ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    /* Set on every context of a listener, SNI names' included. */
    intptr_t li1 = (intptr_t)SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s),
                                                 tls_listener_index);
    int li = (int)li1 - 1;
    uint64_t now = (uint64_t)tls_clock(NULL) / TLS_TICKET_ROTATE;
    uint64_t periods[2] = {now, now - 1};
    if (li1 <= 0)
        return -1;
    if (enc) {
        const tls_tkeys_t *k = tls_ticket_get(li, now);
        memcpy(name, k->name, 16);
        if (RAND_bytes(iv, 16) != 1) /* AES-CBC's IV */
            return -1;
        return tls_ticket_keys(cctx, hctx, k, iv, 1) ? 1 : -1;
    }
    for (int i = 0; i < 2; i++) {
        const tls_tkeys_t *k = tls_ticket_get(li, periods[i]);
        if (memcmp(name, k->name, 16) != 0)
            continue;
        if (!tls_ticket_keys(cctx, hctx, k, iv, 0))
            return -1;
        /* 2: renew, with this hour's key. TLS 1.3 always: a client that
         * resumed keeps the session of that connection, which holds a
         * ticket only if one is sent (else its next handshake is full),
         * as OpenSSL does with its own keys. */
        return i == 0 && SSL_version(s) != TLS1_3_VERSION ? 1 : 2;
    }
    return 0; /* an unknown key: a full handshake */
}

/* ---- callbacks: SNI and ALPN ---- */

static int tls_sni_match(const char *pattern, const char *name)
{
    if (strncmp(pattern, "*.", 2) != 0)
        return strcasecmp(pattern, name) == 0;
    const char *dot = strchr(name, '.');
    return dot != NULL && strcasecmp(pattern + 1, dot) == 0;
}

static int tls_sni_cb(SSL *s, int *alert, void *arg)
{
    (void)alert;
    const tls_bundle_t *b = arg;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    for (int i = 0; name != NULL && i < b->nsni; i++) {
        if (tls_sni_match(b->sni_names[i], name)) {
            SSL_set_SSL_CTX(s, b->sni_ctx[i]);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK; /* an unknown name gets the default cert */
}

static int tls_alpn_cb(SSL *s, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)s;
    const tls_bundle_t *b = arg;
    unsigned char *sel;
    if (b->alpn_len == 0 ||
        SSL_select_next_proto(&sel, outlen, b->alpn,
                              (unsigned int)b->alpn_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* none in common: the default */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* A client certificate is asked for but not required: the handshake goes
 * on whatever it is, and the plugin learns whether it verified. */
static int tls_verify_optional(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

/* ---- building a context ---- */

void tls_alpn_default(const config_listener_t *l, const char **out,
                      size_t max)
{
    size_t n = 0;
    if (l->protocol != PROTOCOL_RAW && l->open_http2_protocol && n + 1 < max)
        out[n++] = "h2";
    if (l->protocol != PROTOCOL_RAW && n + 1 < max)
        out[n++] = "http/1.1";
    out[n] = NULL;
}

/* The listener's ALPN offer in wire format (length-prefixed names). */
static int tls_alpn_wire(const config_listener_t *l, tls_bundle_t *b)
{
    const char *def[8];
    const char *const *names = (const char *const *)l->ssl_alpn;
    size_t len = 0;
    if (names == NULL) {
        tls_alpn_default(l, def, 8);
        names = def;
    }
    for (size_t i = 0; names[i] != NULL; i++)
        len += 1 + strlen(names[i]);
    b->alpn = malloc(len + 1);
    if (b->alpn == NULL)
        return -ENOMEM;
    for (size_t i = 0; names[i] != NULL; i++) {
        size_t n = strlen(names[i]);
        b->alpn[b->alpn_len++] = (unsigned char)n;
        memcpy(b->alpn + b->alpn_len, names[i], n);
        b->alpn_len += n;
    }
    return 0;
}

/* ssl_protocols as OpenSSL's bounds, and a gap between them closed. */
static int tls_set_versions(SSL_CTX *ctx, int bits)
{
    static const int ver[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
                              TLS1_3_VERSION};
    static const uint64_t no[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1,
                                  SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
    int lo = -1, hi = -1;
    for (int i = 0; i < 4; i++) {
        if (bits & (1 << i)) {
            lo = lo < 0 ? i : lo;
            hi = i;
        }
    }
    for (int i = lo; i <= hi; i++)
        if (!(bits & (1 << i)))
            SSL_CTX_set_options(ctx, no[i]);
    return SSL_CTX_set_min_proto_version(ctx, ver[lo]) == 1 &&
           SSL_CTX_set_max_proto_version(ctx, ver[hi]) == 1;
}

/* The certificate (with its chain) and key: loaded, matching, current. */
static int tls_load_pair(SSL_CTX *ctx, int li, const char *sni,
                         const char *cert, const char *key, tls_err_t *err)
{
    char why[256];
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, sni, "ssl_cert_file", "cannot load "
                        "\"%s\": %s", cert, why);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_reason(why, sizeof(why));
        if (strstr(why, "mismatch") != NULL) /* checked on loading */
            return tls_fail(err, li, sni, "ssl_key_file", "\"%s\" does "
                            "not match the certificate \"%s\": %s", key,
                            cert, why);
        return tls_fail(err, li, sni, "ssl_key_file", "cannot load \"%s\": "
                        "%s", key, why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, sni, "ssl_key_file", "\"%s\" does not "
                        "match the certificate \"%s\": %s", key, cert, why);
    }
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (x != NULL && X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        BIO *m = BIO_new(BIO_s_mem());
        char date[64] = "";
        if (m != NULL && ASN1_TIME_print(m, X509_get0_notAfter(x)) == 1) {
            int n = BIO_read(m, date, sizeof(date) - 1);
            date[n > 0 ? n : 0] = '\0';
        }
        BIO_free(m);
        return tls_fail(err, li, sni, "ssl_cert_file", "\"%s\" expired "
                        "(notAfter %s)", cert, date[0] ? date : "?");
    }
    return 0;
}

/* Client certificates: required (ssl_verify_peer) or asked for. */
static int tls_set_verify(SSL_CTX *ctx, int li, const config_listener_t *l,
                          tls_err_t *err)
{
    char why[256];
    const char *ca = l->ssl_client_cert_file;
    if (ca == NULL)
        return 0;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, NULL, "ssl_client_cert_file", "cannot "
                        "load \"%s\": %s", ca, why);
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify_depth(ctx, l->ssl_verify_depth);
    if (l->ssl_verify_peer)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
                                SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_optional);
    return 0;
}

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* Whether the kernel can take TLS (its tls module loads): asked once per
 * process on a socket of its own. Without it OpenSSL would try, and
 * fail, two setsockopt calls after every handshake. */
static int tls_kernel_has_ktls(void)
{
    static _Atomic int known = -1;
    int k = known;
    if (k >= 0)
        return k;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1; /* cannot tell: let OpenSSL try */
    /* An unconnected socket: ENOTCONN when the module is there. */
    k = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 || errno != ENOENT;
    close(fd);
    known = k;
    if (!k)
        log_info("TLS: the kernel has no tls module (modprobe tls): files "
                 "go out through OpenSSL, kTLS is not tried");
    return k;
}

/* Versions, ciphers, groups and options: the same on every context of a
 * listener (an SNI name switches contexts mid-handshake). */
static int tls_set_params(SSL_CTX *ctx, int li, const config_listener_t *l,
                          tls_err_t *err)
{
    char why[256];
    unsigned char sid[8] = {'s', 'w', 'x'};
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                    SSL_OP_IGNORE_UNEXPECTED_EOF;
#ifdef SSL_OP_ENABLE_KTLS
    if (tls_kernel_has_ktls())
        opts |= SSL_OP_ENABLE_KTLS;
#endif
    if (l->ssl_prefer_server_ciphers)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, opts);
    /* No SSL_MODE_RELEASE_BUFFERS: the transport frees a connection's
     * buffers when it falls idle (tls.c, tls_warm). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    memcpy(sid + 4, &li, sizeof(li));
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid));
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, TLS_TICKET_ROTATE);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
    /* TLS 1.3 tickets are issued by the transport, with the first bytes
     * written after the handshake (tls.c, tls_tickets). */
    SSL_CTX_set_num_tickets(ctx, 0);
    /* Whole records in one read, not a header and a body: the engine
     * reads again what OpenSSL holds (tls_buffered). */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!tls_set_versions(ctx, l->ssl_protocols)) {
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, NULL, "ssl_protocols", "%s", why);
    }
    if (SSL_CTX_set_cipher_list(ctx, l->ssl_ciphers != NULL
                                         ? l->ssl_ciphers
                                         : TLS_DEFAULT_CIPHERS) != 1) {
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, NULL, "ssl_ciphers", "%s", why);
    }
    if (l->ssl_ecdh_curve != NULL &&
        SSL_CTX_set1_groups_list(ctx, l->ssl_ecdh_curve) != 1) {
        tls_reason(why, sizeof(why));
        return tls_fail(err, li, NULL, "ssl_ecdh_curve", "%s", why);
    }
    return tls_set_verify(ctx, li, l, err);
}

/* One context: settings, then the certificate for name (NULL: the
 * listener's own). NULL on failure, told in err. */
static SSL_CTX *tls_ctx_one(int li, const config_listener_t *l,
                            const config_sni_t *sni, tls_bundle_t *b,
                            tls_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_fail(err, li, NULL, "ssl_cert_file", "SSL_CTX_new failed");
        return NULL;
    }
    if (tls_set_params(ctx, li, l, err) < 0 ||
        tls_load_pair(ctx, li, sni != NULL ? sni->name : NULL,
                      sni != NULL ? sni->cert_file : l->ssl_cert_file,
                      sni != NULL ? sni->key_file : l->ssl_key_file,
                      err) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, b);
    SSL_CTX_set_ex_data(ctx, tls_listener_index, (void *)(intptr_t)(li + 1));
    return ctx;
}

static void tls_bundle_free(tls_bundle_t *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->nsni; i++) {
        free(b->sni_names[i]);
        SSL_CTX_free(b->sni_ctx[i]);
    }
    free(b->sni_names);
    free(b->sni_ctx);
    free(b->alpn);
    free(b);
}

static void tls_bundle_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
                              int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    tls_bundle_free(ptr);
}

/* The SNI names' contexts; every one is tried so -t reports them all. */
static int tls_bundle_sni(int li, const config_listener_t *l,
                          tls_bundle_t *b, tls_err_t *errs, int *nerr)
{
    int rc = 0;
    b->sni_names = calloc((size_t)l->ssl_nsni_certs + 1, sizeof(char *));
    b->sni_ctx = calloc((size_t)l->ssl_nsni_certs + 1, sizeof(SSL_CTX *));
    if (b->sni_names == NULL || b->sni_ctx == NULL)
        return -ENOMEM;
    for (int i = 0; i < l->ssl_nsni_certs; i++) {
        const config_sni_t *s = &l->ssl_sni_certs[i];
        SSL_CTX *ctx = tls_ctx_one(li, l, s, b, &errs[*nerr]);
        if (ctx == NULL) {
            (*nerr)++;
            rc = -1;
            continue;
        }
        b->sni_ctx[b->nsni] = ctx;
        if ((b->sni_names[b->nsni++] = strdup(s->name)) == NULL)
            return -ENOMEM;
    }
    return rc;
}

/* A listener's default context, carrying its SNI contexts. errs has room
 * for 2 + ssl_nsni_certs failures; *nerr counts them. */
static SSL_CTX *tls_ctx_build(int li, tls_err_t *errs, int *nerr)
{
    const config_listener_t *l = &tls_cfg->listeners[li];
    tls_bundle_t *b = calloc(1, sizeof(*b));
    SSL_CTX *ctx = NULL;
    if (b == NULL || tls_alpn_wire(l, b) < 0) {
        tls_bundle_free(b);
        tls_fail(&errs[(*nerr)++], li, NULL, "ssl_cert_file",
                 "out of memory");
        return NULL;
    }
    b->listener = li;
    ctx = tls_ctx_one(li, l, NULL, b, &errs[*nerr]);
    if (ctx == NULL)
        (*nerr)++;
    if (tls_bundle_sni(li, l, b, errs, nerr) < 0 || ctx == NULL) {
        SSL_CTX_free(ctx);
        tls_bundle_free(b);
        return NULL;
    }
    SSL_CTX_set_ex_data(ctx, tls_bundle_index, b);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, b);
    return ctx;
}

/* ---- the listeners ---- */

/* Build listener li's context; each failure logged (or printed, for -t)
 * with the config file and JSON path. */
static SSL_CTX *tls_ctx_load(int li, int print)
{
    int n = 2 + tls_cfg->listeners[li].ssl_nsni_certs, nerr = 0;
    tls_err_t *errs = calloc((size_t)n, sizeof(*errs));
    SSL_CTX *ctx = errs != NULL ? tls_ctx_build(li, errs, &nerr) : NULL;
    for (int i = 0; i < nerr; i++) {
        if (print)
            fprintf(stderr, "swx-server: %s: %s: %s\n", tls_cfg->path,
                    errs[i].path, errs[i].msg);
        else
            log_error("%s: %s: %s", tls_cfg->path, errs[i].path,
                      errs[i].msg);
    }
    if (errs == NULL)
        log_error("TLS contexts: out of memory");
    free(errs);
    ERR_clear_error();
    return ctx;
}

static int tls_setup(const config_t *cfg)
{
    tls_cfg = cfg;
    if (tls_bundle_index < 0)
        tls_bundle_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                    tls_bundle_exfree);
    if (tls_listener_index < 0)
        tls_listener_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                      NULL);
    if (tls_slots == NULL)
        tls_slots = calloc((size_t)cfg->nlisteners, sizeof(*tls_slots));
    if (tls_slots == NULL || tls_bundle_index < 0 ||
        tls_listener_index < 0) {
        log_error("TLS contexts: out of memory");
        return -1;
    }
    return 0;
}

int tls_check(const config_t *cfg)
{
    static shm_t scratch; /* a secret for the ticket callback to read */
    int rc = 0;
    tls_shm = &scratch;
    if (tls_setup(cfg) < 0)
        return -1;
    for (int i = 0; i < cfg->nlisteners; i++) {
        if (!tls_listener_on(&cfg->listeners[i]))
            continue;
        SSL_CTX *ctx = tls_ctx_load(i, 1);
        rc = ctx == NULL ? -1 : rc;
        SSL_CTX_free(ctx);
    }
    tls_free();
    return rc;
}

int tls_init(const config_t *cfg, shm_t *shm)
{
    int rc = 0;
    tls_shm = shm;
    tls_tkeys_gen++;
    if (tls_setup(cfg) < 0)
        return -1;
    if (!atomic_load(&shm->tls_ticket_secret_set)) {
        if (RAND_bytes(shm->tls_ticket_secret,
                       sizeof(shm->tls_ticket_secret)) != 1) {
            log_error("TLS: RAND_bytes for the ticket secret failed");
            return -1;
        }
        atomic_store(&shm->tls_ticket_secret_set, 1);
    }
    for (int i = 0; i < cfg->nlisteners; i++) {
        pthread_mutex_init(&tls_slots[i].lock, NULL);
        if (!tls_listener_on(&cfg->listeners[i]))
            continue;
        tls_slots[i].ctx = tls_ctx_load(i, 0);
        if (tls_slots[i].ctx == NULL)
            rc = -1;
    }
    return rc;
}

void tls_reload(void)
{
    for (int i = 0; tls_slots != NULL && i < tls_cfg->nlisteners; i++) {
        if (!tls_listener_on(&tls_cfg->listeners[i]))
            continue;
        SSL_CTX *ctx = tls_ctx_load(i, 0), *old;
        if (ctx == NULL) {
            log_warn("listeners[%d]: TLS: keeping the certificates loaded "
                     "before, as the new ones failed (above)", i);
            continue;
        }
        pthread_mutex_lock(&tls_slots[i].lock);
        old = tls_slots[i].ctx;
        tls_slots[i].ctx = ctx;
        pthread_mutex_unlock(&tls_slots[i].lock);
        SSL_CTX_free(old); /* connections made from it hold their own */
        log_info("listeners[%d]: TLS certificates reloaded", i);
    }
}

SSL_CTX *tls_ctx_get(int listener)
{
    tls_slot_t *s = &tls_slots[listener];
    pthread_mutex_lock(&s->lock);
    SSL_CTX *ctx = s->ctx;
    if (ctx != NULL)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&s->lock);
    return ctx;
}

void tls_set_clock(time_t (*now)(time_t *))
{
    tls_clock = now != NULL ? now : time;
}

void tls_free(void)
{
    for (int i = 0; tls_slots != NULL && i < tls_cfg->nlisteners; i++)
        SSL_CTX_free(tls_slots[i].ctx);
    free(tls_slots);
    tls_slots = NULL;
}
