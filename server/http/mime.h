/* mime.h: the Content-Type of a file by its extension. */
#ifndef SWX_MIME_H
#define SWX_MIME_H

/* The media type for path's extension (any case), or
 * "application/octet-stream" when it is unknown. */
const char *mime_type(const char *path);

#endif
