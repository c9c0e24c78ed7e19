/* http_hello.c: the HTTP example plugin: plain text at /, JSON at /json
 * (with the query's ?name=, decoded by swx_http_query_param), a
 * streamed (chunked) response at /stream, and the file named by its config
 * ("file") at /file, sent with sendfile(2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <swx_plugin.h>

static const char *greeting;
static const char *file;
static char greeting_line[512]; /* the greeting and a newline */
static size_t greeting_len;     /* 0 when it does not fit */

static int hello_worker_start(int worker_id)
{
    (void)worker_id;
    greeting = swx_config_string("greeting", "Hello, world!");
    file = swx_config_string("file", NULL);
    int n = snprintf(greeting_line, sizeof(greeting_line), "%s\n", greeting);
    greeting_len = n > 0 && (size_t)n < sizeof(greeting_line) ? (size_t)n : 0;
    return 0;
}

static int path_is(const swx_http_request_t *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

static void hello_text(swx_http_response_t *resp)
{
    swx_http_header(resp, "Content-Type", "text/plain; charset=utf-8");
    swx_http_end(resp, greeting_line, greeting_len);
}

/* s as a JSON string's content: '"', '\\' and control characters
 * escaped; cut short rather than overflow out. */
static void json_escape(const char *s, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
            continue;
        }
        if (c == '"' || c == '\\')
            out[n++] = '\\';
        out[n++] = (char)c;
    }
    out[n] = '\0';
}

/* The method, the query and ?name= (decoded by swx_http_query_param, ABI
 * 1.3) go back as JSON. */
static void hello_json(const swx_http_request_t *req,
                       swx_http_response_t *resp)
{
    char body[16384], query[8192], raw[512], name[3200];
    json_escape(req->query ? req->query : "", req->query_len, query,
                sizeof(query));
    int len = swx_http_query_param(req, "name", raw, sizeof(raw));
    if (len < 0) /* absent, too long or malformed */
        len = snprintf(raw, sizeof(raw), "world");
    json_escape(raw, (size_t)len, name, sizeof(name));
    int n = snprintf(body, sizeof(body),
                     "{\"message\":\"hello\",\"name\":\"%s\","
                     "\"method\":\"%s\",\"query\":\"%s\",\"worker\":%d}\n",
                     name, req->method, query, swx_worker_id());
    if (n < 0 || (size_t)n >= sizeof(body)) {
        swx_http_status(resp, 414);
        swx_http_end(resp, NULL, 0);
        return;
    }
    swx_http_header(resp, "Content-Type", "application/json");
    swx_http_end(resp, body, (size_t)n);
}

/* Written in five parts: the client gets a chunked body. */
static void hello_stream(swx_http_response_t *resp)
{
    swx_http_header(resp, "Content-Type", "text/plain; charset=utf-8");
    for (int i = 1; i <= 5; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "part %d\n", i);
        swx_http_write(resp, line, (size_t)n);
    }
    swx_http_end(resp, "done\n", 5);
}

static void hello_file(swx_http_response_t *resp)
{
    int rc = file ? swx_http_sendfile(resp, file, 0, 0) : -ENOENT;
    if (rc == 0)
        return;
    swx_log(SWX_LOG_WARNING, "http_hello: sendfile %s: %s",
            file ? file : "(no \"file\" in the config)", strerror(-rc));
    swx_http_status(resp, rc == -ENOENT ? 404 : 500);
    swx_http_end(resp, "no file\n", 8);
}

static void hello_request(const swx_http_request_t *req,
                          swx_http_response_t *resp)
{
    if (path_is(req, "/"))
        hello_text(resp);
    else if (path_is(req, "/json"))
        hello_json(req, resp);
    else if (path_is(req, "/stream"))
        hello_stream(resp);
    else if (path_is(req, "/file"))
        hello_file(resp);
    else {
        swx_http_status(resp, 404);
        swx_http_header(resp, "Content-Type", "text/plain");
        swx_http_end(resp, "not found\n", 10);
    }
}

SWX_PLUGIN(.name = "http_hello",
           .on_worker_start = hello_worker_start,
           .on_request = hello_request);
