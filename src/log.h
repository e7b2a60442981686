/* Logging: one sink per process (stderr or a file), levels, fatal. */
#ifndef LIMPET_LOG_H
#define LIMPET_LOG_H

#define LOG_QUIET	0
#define LOG_ERROR	1
#define LOG_INFO	2
#define LOG_DEBUG	3

void	log_init(const char *, int, const char *);
void	log_close(void);
void	log_set_level(int);
int	log_get_level(void);
void	log_msg(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define error_f(fmt, ...) \
	log_msg(LOG_ERROR, "%s: " fmt, __func__, ##__VA_ARGS__)
#define debug_f(fmt, ...) \
	log_msg(LOG_DEBUG, "%s: " fmt, __func__, ##__VA_ARGS__)

#endif
