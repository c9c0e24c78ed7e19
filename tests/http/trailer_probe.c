/* trailer_probe.c: the test plugin of response trailers
 * (swx_http_trailer): routes that send trailers after a streamed, a whole,
 * an empty and a sendfile body, and one that reports the function's
 * return codes.
 *
 * Routes (the path; query parameters as noted):
 *   /stream?N     X-Early (trailer, added before the head) = "early", then
 *                 N parts "part I\n" with swx_http_write, then trailers
 *                 X-Sum = the sum of the body's bytes and X-Parts = N,
 *                 then swx_http_end with "end\n"; header X-Trailer-RC:
 *                 the first trailer's return code
 *   /lstream?N    the same with a Content-Length set first (HTTP/1.1
 *                 drops the trailers)
 *   /whole?N      N bytes of text (text/plain) in one swx_http_end, after
 *                 trailer X-Whole = "N"
 *   /empty        trailer X-Empty = "yes", then swx_http_end with no body
 *   /bare         swx_http_end with no body and no trailer
 *   /nocontent    status 204 with trailer X-None = "1"
 *   /file         trailer X-File = "sent", then the config's "file" with
 *                 swx_http_sendfile
 *   /errors       "name=rc" lines: the return codes of bad trailers
 *                 (the response ended, it logs "trailer_probe: after end
 *                 rc=RC" for a trailer added then)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swx_plugin.h>

static const char *file;

static int probe_start(int worker_id)
{
    (void)worker_id;
    file = swx_config_string("file", NULL);
    return 0;
}

static int route(const swx_http_request_t *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static long query_num(const swx_http_request_t *req, long def)
{
    return req->query != NULL && req->query_len > 0 ? atol(req->query) : def;
}

static void route_stream(const swx_http_request_t *req,
                         swx_http_response_t *resp, int with_length)
{
    long n = query_num(req, 3), total = 4;
    unsigned long long sum = 'e' + 'n' + 'd' + '\n';
    char part[32], num[32];
    for (long i = 1; i <= n; i++)
        total += snprintf(part, sizeof(part), "part %ld\n", i);
    snprintf(num, sizeof(num), "%ld", total);
    if (with_length)
        swx_http_header(resp, "Content-Length", num);
    snprintf(num, sizeof(num), "%d", swx_http_trailer(resp, "X-Early",
                                                      "early"));
    swx_http_header(resp, "X-Trailer-RC", num);
    for (long i = 1; i <= n; i++) {
        int len = snprintf(part, sizeof(part), "part %ld\n", i);
        for (int k = 0; k < len; k++)
            sum += (unsigned char)part[k];
        swx_http_write(resp, part, (size_t)len);
    }
    snprintf(num, sizeof(num), "%llu", sum);
    swx_http_trailer(resp, "X-Sum", num);
    snprintf(num, sizeof(num), "%ld", n);
    swx_http_trailer(resp, "X-Parts", num);
    swx_http_end(resp, "end\n", 4);
}

static void route_whole(const swx_http_request_t *req,
                        swx_http_response_t *resp)
{
    static const char words[] = "the quick brown fox jumps over the dog ";
    long n = query_num(req, 100);
    char num[32];
    char *body = malloc(n > 0 ? (size_t)n : 1);
    if (body == NULL) {
        swx_http_status(resp, 500);
        swx_http_end(resp, NULL, 0);
        return;
    }
    for (long i = 0; i < n; i++)
        body[i] = words[i % (long)(sizeof(words) - 1)];
    swx_http_header(resp, "Content-Type", "text/plain");
    snprintf(num, sizeof(num), "%ld", n);
    swx_http_trailer(resp, "X-Whole", num);
    swx_http_end(resp, body, (size_t)n);
    free(body);
}

/* "name=rc" for each misuse, into out. */
static size_t errors_text(swx_http_response_t *resp, char *out, size_t cap)
{
    static char big[70 * 1024];
    memset(big, 'v', sizeof(big) - 1);
    static const struct { const char *label, *name, *value; } cases[] = {
        {"space_name", "Bad Name", "v"},   {"empty_name", "", "v"},
        {"cr_value", "X-A", "a\rb"},      {"lf_value", "X-A", "a\nb"},
        {"content_length", "Content-Length", "1"},
        {"transfer_encoding", "transfer-encoding", "chunked"},
        {"host", "Host", "h"},            {"authorization", "Authorization", "x"},
        {"content_type", "Content-Type", "text/plain"},
        {"content_encoding", "Content-Encoding", "gzip"},
        {"content_range", "Content-Range", "bytes 0-1/2"},
        {"trailer", "Trailer", "X-A"},    {"connection", "Connection", "close"},
        {"te", "TE", "trailers"},         {"cache_control", "Cache-Control", "x"},
        {"set_cookie", "Set-Cookie", "a=b"},
        {"ok", "X-Ok", "fine value"},
    };
    size_t at = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        at += (size_t)snprintf(out + at, cap - at, "%s=%d\n", cases[i].label,
                               swx_http_trailer(resp, cases[i].name,
                                                cases[i].value));
    at += (size_t)snprintf(out + at, cap - at, "null=%d\nbig=%d\n",
                           swx_http_trailer(resp, "X-B", NULL),
                           swx_http_trailer(resp, "X-Big", big));
    return at;
}

static void route_errors(swx_http_response_t *resp)
{
    char text[2048];
    size_t n = errors_text(resp, text, sizeof(text));
    swx_http_write(resp, text, n);
    swx_http_end(resp, NULL, 0);
    swx_log(SWX_LOG_NOTICE, "trailer_probe: after end rc=%d",
            swx_http_trailer(resp, "X-Late", "1"));
}

static void probe_request(const swx_http_request_t *req,
                          swx_http_response_t *resp)
{
    if (route(req, "/stream") || route(req, "/lstream")) {
        route_stream(req, resp, route(req, "/lstream"));
    } else if (route(req, "/whole")) {
        route_whole(req, resp);
    } else if (route(req, "/empty")) {
        swx_http_trailer(resp, "X-Empty", "yes");
        swx_http_end(resp, NULL, 0);
    } else if (route(req, "/bare")) {
        swx_http_end(resp, NULL, 0);
    } else if (route(req, "/nocontent")) {
        swx_http_status(resp, 204);
        swx_http_trailer(resp, "X-None", "1");
        swx_http_end(resp, NULL, 0);
    } else if (route(req, "/file")) {
        swx_http_trailer(resp, "X-File", "sent");
        if (swx_http_sendfile(resp, file ? file : "/nonexistent", 0, 0) < 0) {
            swx_http_status(resp, 404);
            swx_http_end(resp, "no file\n", 8);
        }
    } else if (route(req, "/errors")) {
        route_errors(resp);
    } else {
        swx_http_status(resp, 404);
        swx_http_end(resp, "no route\n", 9);
    }
}

SWX_PLUGIN(.name = "trailer_probe",
           .on_worker_start = probe_start,
           .on_request = probe_request);
