/* fuzz_cert.h: the certificate and key (ECDSA P-256, CN fuzz.test, valid
 * until 2126) that the TLS fuzz targets serve, as PEM text. */
#ifndef SWX_FUZZ_CERT_H
#define SWX_FUZZ_CERT_H

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgDCCASWgAwIBAgIUcnmSIYWfeAV0Htr+amNkX+OuLxkwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJZnV6ei50ZXN0MCAXDTI2MTIwNjA4MjQyMVoYDzIxMjYxMTEy\n"
    "MDgyNDIxWjAUMRIwEAYDVQQDDAlmdXp6LnRlc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASEBIrVmT/GCF+Tlz0FsLyPJHLLRG0rWlBBWNmhU0uNWFwbb8NbFZnX\n"
    "PUreKFzXe9MdKibNk/q0YWPk5RYCnsYio1MwUTAdBgNVHQ4EFgQUso9Ude1L6UDD\n"
    "+If2ffR2ONBvpRYwHwYDVR0jBBgwFoAUso9Ude1L6UDD+If2ffR2ONBvpRYwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAociNOqtPaciQAq6t+Kfu\n"
    "8/El2nn/5P0+gtiE32/ziEgCIQD2RWBXN7crDRpMHaVqrOQnpwXnzioy8Avyj91a\n"
    "Dl/Qlg==\n"
    "-----END CERTIFICATE-----\n";

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr48OU3kK4HTN8yzK\n"
    "Wd42rhgOUmCHQ4b25b2/SVBDgWyhRANCAASEBIrVmT/GCF+Tlz0FsLyPJHLLRG0r\n"
    "WlBBWNmhU0uNWFwbb8NbFZnXPUreKFzXe9MdKibNk/q0YWPk5RYCnsYi\n"
    "-----END PRIVATE KEY-----\n";

/* text in a new temporary file; its name (malloc'd). */
static inline char *fuzz_write_temp(const char *text)
{
    char *name = strdup("/tmp/swx_fuzz_tls_XXXXXX");
    int fd = mkstemp(name);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return name;
}

#endif
