/*
 * limpet doctor: ssh_config and sshd_config resolution.  Replays the rules
 * ssh and sshd use (first value wins, Include with globs, Host and Match
 * blocks, case-insensitive keywords) over the real files so that every
 * effective value can be traced to the file and line that set it.
 */
#ifndef LIMPET_DOCTOR_SSHCONF_H
#define LIMPET_DOCTOR_SSHCONF_H

/* Which program a keyword belongs to. */
#define SSHCONF_CLIENT	1
#define SSHCONF_SERVER	2
#define SSHCONF_BOTH	3
#define SSHCONF_UNKNOWN	0

/* Issues found while reading. */
#define SSHCONF_WRONGSIDE	1	/* keyword of the other program */
#define SSHCONF_BADKEY		2	/* keyword of neither */
#define SSHCONF_SHADOWED	3	/* an earlier generic block wins */
#define SSHCONF_UNREADABLE	4	/* a file could not be read */
#define SSHCONF_UNEVALUATED	5	/* a Match criterion doctor cannot test */

/* One keyword line as read, whether it applies or not. */
struct sshconf_val {
	char	*key;		/* lowercase */
	char	*value;		/* the arguments as written */
	char	*file;
	int	 line;
	int	 active;	/* applies to this connection */
	int	 inmatch;	/* server: inside a satisfied Match block */
	int	 generic;	/* at top level, or a block for every host */
	char	*block;		/* the Host/Match line, NULL at top level */
	int	 blockline;
};

struct sshconf_issue {
	int	 kind;
	char	*key;
	char	*file;
	int	 line;
	char	*text;
};

/* What Host and Match lines are tested against. */
struct sshconf_match {
	const char	 *host;		/* client: the host as typed */
	const char	 *user;		/* remote user */
	const char	 *localuser;	/* client: the local user */
	const char	 *addr;		/* server: client address */
	const char	 *laddr;	/* server: local address */
	int		  lport;	/* server: local port */
	const char	 *rhost;	/* server: client host name */
	const char *const *groups;	/* server: user's groups, NULL end */
	int		  known;	/* server: connection facts are known */
};

/* How files are found: the real file system, or a set sent by a server. */
struct sshconf_io {
	int	(*read)(void *, const char *, char **);
	int	(*glob)(void *, const char *, char ***, int *);
	int	(*exec)(void *, const char *);	/* Match exec, may be NULL */
	void	*arg;
	const char *home;	/* for ~ and relative user includes */
};

struct sshconf {
	int			 server;
	struct sshconf_val	*v;
	int			 nv;
	struct sshconf_issue	*is;
	int			 nis;
	char			*ignoreunknown;
	char			*hostname;	/* client: HostName so far */
	char			*tag;		/* client: Tag so far */
	int			 canon;
	const char		*stack[17];	/* files being read */
	int			 nstack;
	int			 nread;		/* files read, all told */
};

void	sshconf_init(struct sshconf *, int);
void	sshconf_free(struct sshconf *);
int	sshconf_load(struct sshconf *, const char *, const char *,
	    const struct sshconf_match *, const struct sshconf_io *);
int	sshconf_parse(struct sshconf *, const char *, const char *,
	    const char *, const struct sshconf_match *,
	    const struct sshconf_io *);
const struct sshconf_val *sshconf_get(const struct sshconf *, const char *);
const struct sshconf_val *sshconf_next(const struct sshconf *,
	    const struct sshconf_val *);
int	sshconf_side(const char *);
int	sshconf_pattern(const char *, const char *, int);
int	sshconf_pattern_list(const char *, const char *, int);
int	sshconf_addr_list(const char *, const char *);
void	sshconf_check_shadow(struct sshconf *, const char *);
int	sshconf_host_line(const char *, char *, int *);
extern const struct sshconf_io sshconf_fs;

#endif
