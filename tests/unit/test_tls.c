/* test_tls.c: net/tls_ctx.c's contexts through real handshakes between an
 * OpenSSL client and the server's context over memory BIOs: session
 * tickets resume in this hour and the next (keys rotated, the previous
 * one kept for decryption), not after; a second process with the same
 * shared secret resumes them, one with another secret does not; ALPN and
 * SNI choose as configured; ssl_protocols bounds the versions. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/tls.h"

static char dir[] = "/tmp/swx_test_tls_XXXXXX";
static char cert[300], key[300], cert2[300], key2[300];
static config_t cfg;
static config_listener_t l;
static config_sni_t sni;
static shm_t shm;
static time_t fake_now;

static time_t fake_clock(time_t *t)
{
    if (t != NULL)
        *t = fake_now;
    return fake_now;
}

static void make_cert(char *c, char *k, const char *name, const char *cn)
{
    char cmd[1024];
    snprintf(c, 300, "%s/%s.pem", dir, name);
    snprintf(k, 300, "%s/%s.key", dir, name);
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=%s 2>/dev/null", k, c, cn);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    strcpy(dir, "/tmp/swx_test_tls_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    make_cert(cert, key, "server", "localhost");
    make_cert(cert2, key2, "other", "other.test");
    l = (config_listener_t){.type = LISTENER_TCP, .protocol = PROTOCOL_HTTP,
                            .ssl_cert_file = cert, .ssl_key_file = key,
                            .ssl_protocols = CONFIG_TLSV1_2 | CONFIG_TLSV1_3,
                            .ssl_verify_depth = 1,
                            .ssl_handshake_timeout = 10};
    sni = (config_sni_t){.name = "other.test", .cert_file = cert2,
                         .key_file = key2};
    l.ssl_sni_certs = &sni;
    l.ssl_nsni_certs = 1;
    cfg = (config_t){.path = "test.json", .listeners = &l, .nlisteners = 1};
    memset(&shm, 0, sizeof(shm));
    fake_now = 1700000000 - 1700000000 % 3600 + 60; /* early in an hour */
    tls_set_clock(fake_clock);
    ck_assert_int_eq(tls_init(&cfg, &shm), 0);
}

static void teardown(void)
{
    char cmd[400];
    tls_free();
    tls_set_clock(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Move what each side wrote to the other until neither moves. */
static void pump(SSL *a, SSL *b)
{
    char buf[16384];
    SSL *pair[2][2] = {{a, b}, {b, a}};
    for (int round = 0; round < 50; round++) {
        int moved = 0;
        for (int i = 0; i < 2; i++) {
            BIO *out = SSL_get_wbio(pair[i][0]);
            BIO *in = SSL_get_rbio(pair[i][1]);
            int n;
            while ((n = BIO_read(out, buf, sizeof(buf))) > 0) {
                BIO_write(in, buf, n);
                moved = 1;
            }
        }
        SSL_do_handshake(a);
        SSL_do_handshake(b);
        if (!moved && SSL_is_init_finished(a) && SSL_is_init_finished(b))
            break;
    }
}

static SSL *with_mem(SSL *s)
{
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(r, -1);
    SSL_set_bio(s, r, w);
    return s;
}

typedef struct result {
    int reused;
    char alpn[32];
    char cn[64];
    SSL_SESSION *session; /* the client's, with its ticket */
} result_t;

/* One connection: a client offering alpn and name, resuming sess. */
static result_t connect_once(SSL_SESSION *sess, const char *alpn,
                             const char *name, int max_version)
{
    result_t r = {0};
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX *sctx = tls_ctx_get(0);
    ck_assert_ptr_nonnull(sctx);
    if (max_version)
        SSL_CTX_set_max_proto_version(cctx, max_version);
    SSL *c = with_mem(SSL_new(cctx)), *s = with_mem(SSL_new(sctx));
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (alpn != NULL) {
        unsigned char wire[64];
        wire[0] = (unsigned char)strlen(alpn);
        memcpy(wire + 1, alpn, wire[0]);
        SSL_set_alpn_protos(c, wire, wire[0] + 1u);
    }
    SSL_set_tlsext_host_name(c, name);
    if (sess != NULL)
        SSL_set_session(c, sess);
    pump(c, s);
    ck_assert_msg(SSL_is_init_finished(c), "handshake not done");
    char byte;
    /* The contexts issue no TLS 1.3 ticket by themselves: the transport
     * asks for them with its first write (net/tls.c), as here. */
    ck_assert_int_eq(SSL_get_num_tickets(s), 0);
    if (SSL_version(s) == TLS1_3_VERSION)
        ck_assert_int_eq(SSL_new_session_ticket(s), 1);
    SSL_write(s, "x", 1); /* the client reads the tickets before it */
    pump(c, s);
    ck_assert_int_eq(SSL_read(c, &byte, 1), 1);
    r.reused = SSL_session_reused(c);
    const unsigned char *p;
    unsigned int n;
    SSL_get0_alpn_selected(c, &p, &n);
    snprintf(r.alpn, sizeof(r.alpn), "%.*s", (int)n, p != NULL ? (const char *)p : "");
    X509 *x = SSL_get0_peer_certificate(c);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
                              r.cn, sizeof(r.cn));
    r.session = SSL_get1_session(c);
    /* Closed as after close_notify: a session freed otherwise is marked
     * not resumable. */
    SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    return r;
}

static int resumes_at(SSL_SESSION *sess, int max)
{
    result_t r = connect_once(sess, NULL, "localhost", max);
    SSL_SESSION_free(r.session);
    return r.reused;
}

static int resumes(SSL_SESSION *sess)
{
    result_t r = connect_once(sess, NULL, "localhost", 0);
    SSL_SESSION_free(r.session);
    return r.reused;
}

START_TEST(test_ticket_rotation)
{
    for (int v = 0; v < 2; v++) {
        int max = v == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        result_t first = connect_once(NULL, NULL, "localhost", max);
        ck_assert_int_eq(first.reused, 0);
        ck_assert_int_eq(resumes_at(first.session, max), 1);
        fake_now += 3600; /* the next hour: the previous key decrypts */
        ck_assert_int_eq(resumes_at(first.session, max), 1);
        fake_now += 3600; /* two keys on: gone */
        ck_assert_int_eq(resumes_at(first.session, max), 0);
        SSL_SESSION_free(first.session);
    }
}
END_TEST

START_TEST(test_ticket_shared_secret)
{
    result_t first = connect_once(NULL, NULL, "localhost", 0);
    /* Another process: its own contexts, the same shared memory. */
    tls_free();
    ck_assert_int_eq(tls_init(&cfg, &shm), 0);
    ck_assert_int_eq(resumes(first.session), 1);
    /* A server with another secret (a restart) cannot read it. */
    tls_free();
    memset(&shm, 0, sizeof(shm));
    ck_assert_int_eq(tls_init(&cfg, &shm), 0);
    ck_assert_int_eq(resumes(first.session), 0);
    SSL_SESSION_free(first.session);
}
END_TEST

START_TEST(test_alpn_sni_versions)
{
    result_t r = connect_once(NULL, "http/1.1", "OTHER.test", 0);
    ck_assert_str_eq(r.alpn, "http/1.1");
    ck_assert_str_eq(r.cn, "other.test");
    SSL_SESSION_free(r.session);
    r = connect_once(NULL, "h2", "unknown.test", 0);
    ck_assert_str_eq(r.alpn, ""); /* not offered by default yet */
    ck_assert_str_eq(r.cn, "localhost");
    SSL_SESSION_free(r.session);
    const char *def[4];
    tls_alpn_default(&l, def, 4);
    ck_assert_str_eq(def[0], "http/1.1");
    ck_assert_ptr_null(def[1]);
    config_listener_t raw = {.protocol = PROTOCOL_RAW};
    tls_alpn_default(&raw, def, 4);
    ck_assert_ptr_null(def[0]);
}
END_TEST

START_TEST(test_reload_keeps_old_on_failure)
{
    result_t r = connect_once(NULL, NULL, "localhost", 0);
    ck_assert_str_eq(r.cn, "localhost");
    SSL_SESSION_free(r.session);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "cp %s %s", cert2, cert);
    ck_assert_int_eq(system(cmd), 0); /* other.test's cert, the old key */
    tls_reload(); /* the key no longer matches: kept */
    r = connect_once(NULL, NULL, "localhost", 0);
    ck_assert_str_eq(r.cn, "localhost");
    SSL_SESSION_free(r.session);
    snprintf(cmd, sizeof(cmd), "cp %s %s", key2, key);
    ck_assert_int_eq(system(cmd), 0);
    tls_reload(); /* both replaced: new handshakes get it */
    r = connect_once(NULL, NULL, "localhost", 0);
    ck_assert_str_eq(r.cn, "other.test");
    SSL_SESSION_free(r.session);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ticket_rotation);
    tcase_add_test(tc, test_ticket_shared_secret);
    tcase_add_test(tc, test_alpn_sni_versions);
    tcase_add_test(tc, test_reload_keeps_old_on_failure);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
