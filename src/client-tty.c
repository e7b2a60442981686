/*
 * Terminal handling for the client.  The saved settings live in one place
 * and are restored on every way out (normal exit, fatal(), signals): the
 * client registers tty_restore() with atexit() and calls it before it
 * stops itself or exits on a signal.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client-tty.h"
#include "err.h"

static struct termios	tty_saved;
static int		tty_fd = -1;
static int		tty_raw_on;

/* Put fd's terminal in raw mode, as ssh does for an interactive session. */
int
tty_raw(int fd)
{
	struct termios	t;

	if (tcgetattr(fd, &t) == -1)
		return ERR_SYSTEM;
	if (!tty_raw_on) {
		tty_saved = t;
		tty_fd = fd;
	}
	t.c_iflag |= IGNPAR;
	t.c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF);
#ifdef IUCLC
	t.c_iflag &= ~IUCLC;
#endif
	t.c_lflag &= ~(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL);
#ifdef IEXTEN
	t.c_lflag &= ~IEXTEN;
#endif
	t.c_oflag &= ~OPOST;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSADRAIN, &t) == -1)
		return ERR_SYSTEM;
	tty_raw_on = 1;
	return 0;
}

/* Put the terminal back as it was; safe to call any number of times. */
void
tty_restore(void)
{
	if (!tty_raw_on || tty_fd == -1)
		return;
	while (tcsetattr(tty_fd, TCSADRAIN, &tty_saved) == -1 &&
	    errno == EINTR)
		;
	tty_raw_on = 0;
}

/* True while the terminal is in raw mode. */
int
tty_is_raw(void)
{
	return tty_raw_on;
}

/* The terminal's size; 0 and ERR_SYSTEM if it has none. */
int
tty_size(int fd, uint16_t *rows, uint16_t *cols)
{
	struct winsize	ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == -1 || ws.ws_row == 0 ||
	    ws.ws_col == 0) {
		*rows = *cols = 0;
		return ERR_SYSTEM;
	}
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}
