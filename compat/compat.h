/*
 * The portability layer.  limpet is C11 + POSIX; what POSIX lacks and
 * Linux (or a BSD) has comes in through here, chosen at build time by
 * HAVE_* macros: the Makefile defines them for the native Linux build and
 * none of them for `make portable`, which then uses only the portable
 * fallbacks in compat/.  No configure script: a macro names one
 * well-known interface, and the fallback is always correct, only slower or
 * coarser.
 *
 * Two kinds of names:
 *  - compat_*() for Linux-only calls whose fallback differs in shape
 *    (pipe2, closefrom, memrchr, getrandom, accept4, socket flags,
 *    forkpty, SO_PEERCRED); call sites use these names.
 *  - BSD and GNU string and time helpers that every target has but strict
 *    POSIX headers do not declare (strsep, memmem, strcasestr, vasprintf,
 *    usleep): without HAVE_*, their names map to the fallbacks here.
 */
#ifndef LIMPET_COMPAT_H
#define LIMPET_COMPAT_H

#include <sys/types.h>
#include <sys/ioctl.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>	/* strcasecmp: glibc's string.h hides it */
#include <termios.h>

/* The BSDs and macOS have these in libc. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#ifndef HAVE_GETPEEREID
#define HAVE_GETPEEREID	1
#endif
#ifndef HAVE_ARC4RANDOM
#define HAVE_ARC4RANDOM	1
#endif
#endif

/* pipe2(): flags are O_CLOEXEC and O_NONBLOCK. */
int	 compat_pipe2(int [2], int);
/* Close every descriptor from the given one up. */
void	 compat_closefrom(int);
/* The last byte c in the n bytes at s, or NULL. */
void	*compat_memrchr(const void *, int, size_t);
/* Fill a buffer with random bytes for ids and names; 0 or -1. */
int	 compat_random(void *, size_t);
/* accept(), socket(), socketpair() with O_CLOEXEC and O_NONBLOCK flags. */
int	 compat_accept(int, int);
void	 compat_pipe_size(int, int);
int	 compat_pipe_get_size(int);
/* Move up to n bytes from fd to fd without copying (splice); ENOSYS if not. */
ssize_t	 compat_splice(int, int, size_t);
/* Send bytes with one descriptor attached; receive at most one (fdpass.c). */
ssize_t	 compat_send_fd(int, const void *, size_t, int);
ssize_t	 compat_recv_fd(int, void *, size_t, int *);
int	 compat_socket(int, int, int, int);
int	 compat_socketpair(int, int, int, int [2], int);
/* The uid of the peer of a connected Unix socket; 0 or -1. */
int	 compat_getpeereid(int, uid_t *);
/* Fork a child on a new PTY of this size, as forkpty(3). */
pid_t	 compat_forkpty(int *, const struct winsize *);
/* The program name of a process (/proc/PID/comm); 0 or -1. */
int	 compat_proc_name(pid_t, char *, size_t);
/* The path of this process's program (/proc/self/exe); 0 or -1. */
int	 compat_self_exe(char *, size_t);
/* The slave's termios, read through the master fd; 0 or -1. */
int	 compat_pty_termios(int, struct termios *);
/* The state of pid's TCP connection (Linux; elsewhere unknown). */
#define COMPAT_TCP_UNKNOWN	(-1)
#define COMPAT_TCP_NONE		0	/* no TCP socket (yet) */
#define COMPAT_TCP_SYN		1	/* its SYN is unanswered */
#define COMPAT_TCP_UP		2	/* established */
int	 compat_tcp_state(pid_t);
/* 1 if the CPU runs AES-GCM in hardware (AES and carry-less multiply). */
int	 compat_cpu_aes_gcm(void);
/* Give free heap memory back to the kernel (where the allocator can). */
void	 compat_trim(void);
/* The addresses of pid's TCP connection (or its SYN's); 0 or -1. */
struct sockaddr_storage;
int	 compat_tcp_addrs(pid_t, struct sockaddr_storage *,
	    struct sockaddr_storage *);

#ifndef HAVE_STRSEP
#define strsep		compat_strsep
char	*compat_strsep(char **, const char *);
#endif
#ifndef HAVE_MEMMEM
#define memmem		compat_memmem
void	*compat_memmem(const void *, size_t, const void *, size_t);
#endif
#ifndef HAVE_STRCASESTR
#define strcasestr	compat_strcasestr
char	*compat_strcasestr(const char *, const char *);
#endif
#ifndef HAVE_VASPRINTF
#define vasprintf	compat_vasprintf
int	 compat_vasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
#endif
#ifndef HAVE_USLEEP
#define usleep		compat_usleep
int	 compat_usleep(unsigned long);
#endif

#endif
