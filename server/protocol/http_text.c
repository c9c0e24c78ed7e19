/* http_text.c: reason phrases and IMF-fixdate dates. */
#include "protocol/http_text.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct http_status_text {
    int status;
    const char *reason;
} http_status_text_t;

static const http_status_text_t reasons[] = {
    {100, "Continue"}, {101, "Switching Protocols"},
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
    {304, "Not Modified"}, {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
    {404, "Not Found"}, {405, "Method Not Allowed"},
    {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"},
    {411, "Length Required"}, {413, "Content Too Large"},
    {414, "URI Too Long"}, {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"}, {417, "Expectation Failed"},
    {426, "Upgrade Required"}, {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"}, {501, "Not Implemented"},
    {502, "Bad Gateway"}, {503, "Service Unavailable"},
    {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void http_date(time_t t, char out[HTTP_DATE_LEN + 1])
{
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    /* Years past 9999 would not fit the format: cut, never overrun. */
    snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, HTTP_DATE_LEN);
    out[HTTP_DATE_LEN] = '\0';
}

static int month_index(const char *m)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(m, months[i], 3) == 0)
            return i;
    return -1;
}

int http_date_parse(const char *s, size_t len, time_t *t)
{
    char buf[HTTP_DATE_LEN + 1], mon[4], gmt[4];
    int day, year, hh, mm, ss, used = 0;
    if (len != HTTP_DATE_LEN)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (sscanf(buf + 5, "%2d %3s %4d %2d:%2d:%2d %3s%n", &day, mon, &year,
               &hh, &mm, &ss, gmt, &used) != 7 ||
        used != HTTP_DATE_LEN - 5 || strcmp(gmt, "GMT") != 0)
        return -EINVAL;
    struct tm tm = {.tm_mday = day, .tm_mon = month_index(mon),
                    .tm_year = year - 1900, .tm_hour = hh, .tm_min = mm,
                    .tm_sec = ss};
    if (tm.tm_mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return -EINVAL;
    *t = timegm(&tm);
    return 0;
}
