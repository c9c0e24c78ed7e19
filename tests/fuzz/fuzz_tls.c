/* fuzz_tls.c: libFuzzer target for the TLS handshake and record path as
 * the server runs it: a listener's context built by net/tls_ctx.c (the
 * real settings and callbacks: SNI, ALPN, session tickets with keys from
 * the shared secret), an SSL fed the input as the client's bytes through
 * a memory BIO, the handshake driven as the transport drives it, then
 * reads. Whatever the bytes, it must end in an error or a handshake,
 * within bounds; the ticket callback sees attacker-chosen key names.
 *
 * The first byte picks how the input is cut into arrivals (the rest comes
 * in pieces of 1 + byte % 64 bytes, or whole). */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fuzz_cert.h"
#include "net/tls.h"

static config_t cfg;
static config_listener_t listener;
static shm_t shm;
static char *alpn[] = {"h2", "http/1.1", NULL};

static void setup(void)
{
    static config_sni_t sni;
    listener.type = LISTENER_TCP;
    listener.protocol = PROTOCOL_HTTP;
    listener.ssl_cert_file = fuzz_write_temp(cert_pem);
    listener.ssl_key_file = fuzz_write_temp(key_pem);
    listener.ssl_protocols = CONFIG_TLSV1_2 | CONFIG_TLSV1_3;
    listener.ssl_prefer_server_ciphers = 1;
    listener.ssl_verify_depth = 1;
    listener.ssl_alpn = alpn;
    listener.ssl_handshake_timeout = 10;
    sni.name = "fuzz.test";
    sni.cert_file = listener.ssl_cert_file;
    sni.key_file = listener.ssl_key_file;
    listener.ssl_sni_certs = &sni;
    listener.ssl_nsni_certs = 1;
    cfg.path = "fuzz.json";
    cfg.listeners = &listener;
    cfg.nlisteners = 1;
    assert(tls_init(&cfg, &shm) == 0);
}

/* The client's bytes arrive in pieces; the server answers into wbio,
 * which is drained as a socket would be. */
static void drive(SSL *ssl, BIO *rbio, BIO *wbio, const uint8_t *data,
                  size_t size, size_t piece)
{
    char buf[16384];
    int done = 0;
    for (size_t off = 0; off <= size;) {
        size_t n = size - off < piece ? size - off : piece;
        if (n > 0)
            assert(BIO_write(rbio, data + off, (int)n) == (int)n);
        off += n;
        int rc = done ? SSL_read(ssl, buf, sizeof(buf))
                      : SSL_do_handshake(ssl);
        if (!done && rc == 1)
            done = 1;
        int err = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
        (void)BIO_reset(wbio);
        if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ &&
            err != SSL_ERROR_WANT_WRITE)
            break; /* refused: the transport closes the connection */
        if (n == 0 && (rc <= 0 || !done))
            break;
    }
    if (done) {
        const unsigned char *p;
        unsigned int len;
        SSL_get0_alpn_selected(ssl, &p, &len);
        assert(len == 0 || len == 2 || len == 8);
        assert(SSL_get_version(ssl) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    size_t piece = data[0] & 0x80 ? 1 + (data[0] & 63) : size;
    SSL_CTX *ctx = tls_ctx_get(0);
    assert(ctx != NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    assert(ssl != NULL && rbio != NULL && wbio != NULL);
    BIO_set_mem_eof_return(rbio, -1); /* empty: "try again", as a socket */
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_accept_state(ssl);
    drive(ssl, rbio, wbio, data + 1, size - 1, piece > 0 ? piece : 1);
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
