/* real_ip.h: the client address a trusted proxy names in a request header
 * (X-Forwarded-For), as nginx's realip module with real_ip_recursive. */
#ifndef SWX_REAL_IP_H
#define SWX_REAL_IP_H

#include "core/cidr.h"
#include "protocol/http_parser.h"

#define REAL_IP_LEN 46 /* an address and its NUL */

/*
 * The client of req, whose connection's peer is peer (numeric text). When
 * peer is in trusted, the fields named header (every one, in order) are
 * read as one list of addresses, from the right: each trusted address
 * passes on to the one before it; the first that is not trusted is the
 * client (if all are, the leftmost). An item that is not an address ends
 * the walk with the last address taken. 1 with the client in out
 * (canonical text), or 0 when the peer itself is the client.
 */
int real_ip_find(const http_request_t *req, const char *header,
                 const cidr_list_t *trusted, const char *peer,
                 char out[REAL_IP_LEN]);

#endif
