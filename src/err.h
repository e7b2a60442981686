/* Error codes shared by library code: 0 is success, negative is failure. */
#ifndef LIMPET_ERR_H
#define LIMPET_ERR_H

#define ERR_OK			0
#define ERR_SYSTEM		-1	/* see errno */
#define ERR_NOMEM		-2
#define ERR_SHORT		-3	/* need more bytes */
#define ERR_TOOBIG		-4	/* length over a limit */
#define ERR_FORMAT		-5	/* malformed input */
#define ERR_VERSION		-6	/* protocol version mismatch */
#define ERR_UNSAFE		-7	/* unsafe path, owner or mode */
#define ERR_PEER		-8	/* peer credentials refused */
#define ERR_NOTFOUND		-9
#define ERR_EXISTS		-10
#define ERR_USAGE		-11
#define ERR_EOF			-12
#define ERR_RANGE		-13	/* offset outside what is held */
#define ERR_FULL		-14

const char	*err_str(int);

#endif
