/*
 * limpet doctor: replaying ssh's and sshd's configuration rules.
 *
 * ssh (ssh_config(5)): for each keyword the first value obtained wins;
 * the command line comes first, then the user's file, then the system
 * file; Host and Match blocks apply from their line to the next one;
 * Include reads files (globs, in lexical order) at the point of the
 * Include, relative to ~/.ssh or /etc/ssh.
 *
 * sshd (sshd_config(5)): the first value wins in the global part; keywords
 * in a satisfied Match block override the global ones, and among several
 * satisfied Match blocks the first wins.
 *
 * Every keyword line is kept, with whether it applies, so the caller can
 * name the line that set a value and the lines that lost to it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "doctor-sshconf.h"
#include "err.h"
#include "xmalloc.h"

#define SSHCONF_MAXDEPTH	16
#define SSHCONF_MAXFILES	256

/* Keywords of ssh_config only (OpenSSH 9.2 to 10.x, Debian aliases). */
static const char *const client_keys[] = {
	"host", "match", "addkeystoagent", "batchmode", "bindaddress",
	"bindinterface", "canonicaldomains", "canonicalizefallbacklocal",
	"canonicalizehostname", "canonicalizemaxdots",
	"canonicalizepermittedcnames", "certificatefile",
	"challengeresponseauthentication", "checkhostip", "cipher",
	"clearallforwardings", "connectionattempts", "connecttimeout",
	"controlmaster", "controlpath", "controlpersist", "dynamicforward",
	"enableescapecommandline", "enablesshkeysign", "escapechar",
	"exitonforwardfailure", "forkafterauthentication", "forwardagent",
	"forwardx11", "forwardx11timeout", "forwardx11trusted",
	"globalknownhostsfile", "gssapiclientidentity",
	"gssapidelegatecredentials", "gssapirenewalforcesrekey",
	"gssapiserveridentity", "gssapitrustdns", "hashknownhosts",
	"hostkeyalias", "hostname", "identitiesonly", "identityagent",
	"identityfile", "ignoreunknown", "kbdinteractivedevices",
	"knownhostscommand", "localcommand", "localforward",
	"nohostauthenticationforlocalhost", "numberofpasswordprompts",
	"obscurekeystroketiming", "permitlocalcommand", "permitremoteopen",
	"pkcs11provider", "preferredauthentications", "protocolkeepalives",
	"proxycommand", "proxyjump", "proxyusefdpass", "remotecommand",
	"remoteforward", "requesttty", "revokedhostkeys",
	"sendenv", "serveralivecountmax", "serveraliveinterval",
	"sessiontype", "setuptimeout", "smartcarddevice", "stdinnull",
	"stricthostkeychecking", "tag", "tunnel", "tunneldevice",
	"updatehostkeys", "user", "userknownhostsfile", "verifyhostkeydns",
	"visualhostkey", "warnweakcrypto", "refuseconnection",
	"versionaddendum_client", NULL
};

/* Keywords of sshd_config only. */
static const char *const server_keys[] = {
	"acceptenv", "allowagentforwarding", "allowgroups",
	"allowstreamlocalforwarding", "allowtcpforwarding", "allowusers",
	"authenticationmethods", "authorizedkeyscommand",
	"authorizedkeyscommanduser", "authorizedkeysfile",
	"authorizedkeysfile2", "authorizedprincipalscommand",
	"authorizedprincipalscommanduser", "authorizedprincipalsfile",
	"banner", "chrootdirectory", "clientalivecountmax",
	"clientaliveinterval", "debianbanner", "denygroups", "denyusers",
	"disableforwarding", "exposeauthinfo", "forcecommand",
	"gssapicleanupcredentials", "gssapistrictacceptorcheck",
	"gssapistorecredentialsonrekey", "hostbasedusesnamefrompacketonly",
	"hostcertificate", "hostkey", "hostkeyagent", "ignorerhosts",
	"ignoreuserknownhosts", "kerberosauthentication",
	"kerberosgetafstoken", "kerberosorlocalpasswd",
	"kerberosticketcleanup", "listenaddress", "logingracetime",
	"maxauthtries", "maxsessions", "maxstartups", "modulifile",
	"permitemptypasswords", "permitlisten", "permitopen",
	"permitrootlogin", "permittty", "permittunnel",
	"permituserenvironment", "permituserrc", "persourcemaxstartups",
	"persourcenetblocksize", "persourcepenalties",
	"persourcepenaltyexemptlist", "pidfile", "printlastlog",
	"printmotd", "pubkeyauthoptions", "rdomain", "revokedkeys",
	"sshdsessionpath", "sshdauthpath", "strictmodes", "subsystem",
	"trustedusercakeys", "unusedconnectiontimeout", "usedns", "usepam",
	"versionaddendum", "x11displayoffset", "x11forwarding",
	"x11uselocalhost", "keyregenerationinterval", "serverkeybits",
	"useprivilegeseparation", "uselogin", "hostdsakey", NULL
};

/* Keywords both programs accept. */
static const char *const both_keys[] = {
	"include", "addressfamily", "casignaturealgorithms",
	"channeltimeout", "ciphers", "compression", "fingerprinthash",
	"gatewayports", "gssapiauthentication", "gssapikeyexchange",
	"gssapikexalgorithms", "hostbasedacceptedalgorithms",
	"hostbasedauthentication", "hostbasedkeytypes",
	"hostkeyalgorithms", "ipqos", "kbdinteractiveauthentication",
	"kexalgorithms", "loglevel", "logverbose", "macs",
	"passwordauthentication", "port", "protocol",
	"pubkeyacceptedalgorithms", "pubkeyacceptedkeytypes",
	"pubkeyauthentication", "rekeylimit", "requiredrsasize",
	"securitykeyprovider", "setenv", "streamlocalbindmask",
	"streamlocalbindunlink", "syslogfacility", "tcpkeepalive",
	"xauthlocation", "keepalive", "rsaauthentication",
	"rhostsrsaauthentication", "dsaauthentication", NULL
};

/* True if key is in the NULL-terminated list. */
static int
sshconf_in(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcasecmp(*list, key) == 0)
			return 1;
	return 0;
}

/* Which program accepts keyword key: SSHCONF_CLIENT, _SERVER, _BOTH. */
int
sshconf_side(const char *key)
{
	if (sshconf_in(both_keys, key))
		return SSHCONF_BOTH;
	if (sshconf_in(client_keys, key))
		return SSHCONF_CLIENT;
	if (sshconf_in(server_keys, key))
		return SSHCONF_SERVER;
	return SSHCONF_UNKNOWN;
}

/* Start an empty configuration for ssh (server 0) or sshd (server 1). */
void
sshconf_init(struct sshconf *c, int server)
{
	memset(c, 0, sizeof *c);
	c->server = server;
}

/* Free everything. */
void
sshconf_free(struct sshconf *c)
{
	int	i;

	for (i = 0; i < c->nv; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].file);
		free(c->v[i].block);
	}
	for (i = 0; i < c->nis; i++) {
		free(c->is[i].key);
		free(c->is[i].file);
		free(c->is[i].text);
	}
	free(c->v);
	free(c->is);
	free(c->ignoreunknown);
	free(c->hostname);
	free(c->tag);
	memset(c, 0, sizeof *c);
}

/* Record an issue. */
static void
sshconf_issue(struct sshconf *c, int kind, const char *key, const char *file,
    int line, const char *text)
{
	struct sshconf_issue	*is;

	c->is = xreallocarray(c->is, c->nis + 1, sizeof *c->is);
	is = &c->is[c->nis++];
	is->kind = kind;
	is->key = xstrdup(key != NULL ? key : "");
	is->file = xstrdup(file);
	is->line = line;
	is->text = xstrdup(text != NULL ? text : "");
}

/*
 * Match string s against one pattern with * and ? (ssh's match_pattern,
 * without negation); fold selects case-insensitive comparison.
 */
int
sshconf_pattern(const char *s, const char *pat, int fold)
{
	for (;;) {
		if (*pat == '\0')
			return *s == '\0';
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			if (*pat == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (sshconf_pattern(s, pat, fold))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*pat != '?' && (fold ? tolower((unsigned char)*pat) !=
		    tolower((unsigned char)*s) : *pat != *s))
			return 0;
		s++;
		pat++;
	}
}

/*
 * Match s against a comma-separated list of patterns, some negated with
 * '!': 1 if a plain pattern matches and no negated one does, else 0.
 */
int
sshconf_pattern_list(const char *s, const char *list, int fold)
{
	char	*copy, *p, *tok;
	int	 got = 0;

	copy = p = xstrdup(list);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (*tok == '!') {
			if (sshconf_pattern(s, tok + 1, fold)) {
				got = -1;
				break;
			}
		} else if (*tok != '\0' && sshconf_pattern(s, tok, fold))
			got = 1;
	}
	free(copy);
	return got == 1;
}

/* True if address addr lies in the network cidr ("10.0.0.0/8"). */
static int
sshconf_cidr(const char *addr, const char *cidr)
{
	unsigned char	 a[16], n[16];
	char		 net[64], *slash, *end;
	int		 fam, bits, max, i;
	long		 l;

	if (strlen(cidr) >= sizeof net)
		return 0;
	strcpy(net, cidr);
	if ((slash = strchr(net, '/')) == NULL)
		return 0;
	*slash++ = '\0';
	fam = strchr(net, ':') != NULL ? AF_INET6 : AF_INET;
	max = fam == AF_INET6 ? 128 : 32;
	l = strtol(slash, &end, 10);
	if (*end != '\0' || end == slash || l < 0 || l > max)
		return 0;
	bits = (int)l;
	if (inet_pton(fam, net, n) != 1 || inet_pton(fam, addr, a) != 1)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != n[i])
			return 0;
	if (bits > 0 && ((a[i] ^ n[i]) & (0xff << (8 - bits)) & 0xff) != 0)
		return 0;
	return 1;
}

/*
 * Match an address against a list of patterns and CIDR networks, some
 * negated (sshd's Match Address).
 */
int
sshconf_addr_list(const char *addr, const char *list)
{
	char	*copy, *p, *tok, *t;
	int	 got = 0, neg, hit;

	copy = p = xstrdup(list);
	while ((tok = strsep(&p, ",")) != NULL) {
		neg = *tok == '!';
		t = neg ? tok + 1 : tok;
		if (*t == '\0')
			continue;
		hit = strchr(t, '/') != NULL ? sshconf_cidr(addr, t) :
		    sshconf_pattern(addr, t, 1);
		if (hit && neg) {
			got = -1;
			break;
		}
		if (hit)
			got = 1;
	}
	free(copy);
	return got == 1;
}

/*
 * Split the next argument off *pp, honouring double quotes; NULL at the
 * end.  The string is modified in place.
 */
static char *
sshconf_arg(char **pp)
{
	char	*p = *pp, *start, *w;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*pp = p;
		return NULL;
	}
	start = w = p;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			*w++ = *p;
		if (*p == '"')
			p++;
	} else {
		for (; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			*w++ = *p;
	}
	if (*p != '\0')
		p++;
	*w = '\0';
	*pp = p;
	return start;
}

/* Evaluate a client Host line's patterns against the host. */
int
sshconf_host_line(const char *host, char *args, int *generic)
{
	char	*a;
	int	 hit = 0;

	*generic = 0;
	while ((a = sshconf_arg(&args)) != NULL) {
		if (*a == '!') {
			if (sshconf_pattern(host, a + 1, 1))
				return 0;
			continue;
		}
		if (strcmp(a, "*") == 0)
			*generic = 1;
		if (sshconf_pattern(host, a, 1))
			hit = 1;
	}
	return hit;
}

/* Evaluate a client Match line. */
static int
sshconf_match_client(struct sshconf *c, const char *file, int line,
    char *args, const struct sshconf_match *m,
    const struct sshconf_io *io, int *generic)
{
	char		*crit, *val;
	const char	*subject;
	int		 neg, hit, all = 1;

	*generic = 0;
	while ((crit = sshconf_arg(&args)) != NULL) {
		neg = *crit == '!';
		if (neg)
			crit++;
		if (strcasecmp(crit, "all") == 0) {
			*generic = !neg;
			hit = 1;
		} else if (strcasecmp(crit, "canonical") == 0)
			hit = c->canon;
		else if (strcasecmp(crit, "final") == 0)
			hit = 1;
		else {
			if ((val = sshconf_arg(&args)) == NULL) {
				sshconf_issue(c, SSHCONF_UNEVALUATED, crit,
				    file, line, "Match criterion without a "
				    "value");
				return 0;
			}
			if (strcasecmp(crit, "host") == 0) {
				subject = c->hostname != NULL ? c->hostname :
				    m->host;
				hit = sshconf_pattern_list(subject, val, 1);
			} else if (strcasecmp(crit, "originalhost") == 0)
				hit = sshconf_pattern_list(m->host, val, 1);
			else if (strcasecmp(crit, "user") == 0)
				hit = m->user != NULL &&
				    sshconf_pattern_list(m->user, val, 0);
			else if (strcasecmp(crit, "localuser") == 0)
				hit = m->localuser != NULL &&
				    sshconf_pattern_list(m->localuser, val, 0);
			else if (strcasecmp(crit, "tagged") == 0)
				hit = sshconf_pattern_list(c->tag != NULL ?
				    c->tag : "", val, 1);
			else if (strcasecmp(crit, "exec") == 0 &&
			    io->exec != NULL)
				hit = io->exec(io->arg, val) == 1;
			else {
				sshconf_issue(c, SSHCONF_UNEVALUATED, crit,
				    file, line, "doctor does not evaluate this "
				    "Match criterion; it assumed no match");
				hit = 0;
			}
		}
		if (neg)
			hit = !hit;
		if (!hit)
			all = 0;
	}
	return all;
}

/* Evaluate a server Match line. */
static int
sshconf_match_server(struct sshconf *c, const char *file, int line,
    char *args, const struct sshconf_match *m, int *generic)
{
	char		*crit, *val;
	int		 hit, all = 1, i;

	*generic = 0;
	while ((crit = sshconf_arg(&args)) != NULL) {
		if (strcasecmp(crit, "all") == 0) {
			*generic = 1;
			continue;
		}
		if ((val = sshconf_arg(&args)) == NULL) {
			sshconf_issue(c, SSHCONF_UNEVALUATED, crit, file, line,
			    "Match criterion without a value");
			return 0;
		}
		hit = 0;
		if (strcasecmp(crit, "user") == 0)
			hit = m->user != NULL &&
			    sshconf_pattern_list(m->user, val, 0);
		else if (strcasecmp(crit, "group") == 0) {
			for (i = 0; m->groups != NULL && m->groups[i] != NULL;
			    i++)
				if (sshconf_pattern_list(m->groups[i], val, 0))
					hit = 1;
		} else if (strcasecmp(crit, "address") == 0 && m->addr != NULL)
			hit = sshconf_addr_list(m->addr, val);
		else if (strcasecmp(crit, "localaddress") == 0 &&
		    m->laddr != NULL)
			hit = sshconf_addr_list(m->laddr, val);
		else if (strcasecmp(crit, "localport") == 0 && m->lport > 0) {
			char	port[16];

			snprintf(port, sizeof port, "%d", m->lport);
			hit = sshconf_pattern_list(port, val, 0);
		} else if (strcasecmp(crit, "host") == 0) {
			hit = sshconf_pattern_list(m->rhost != NULL ? m->rhost :
			    (m->addr != NULL ? m->addr : ""), val, 1);
		} else {
			sshconf_issue(c, SSHCONF_UNEVALUATED, crit, file, line,
			    "doctor does not evaluate this Match criterion; "
			    "it assumed no match");
		}
		if (!hit)
			all = 0;
	}
	return all;
}

/* Expand a leading ~/ with home. */
static char *
sshconf_tilde(const char *path, const char *home)
{
	char	*out;

	if (path[0] == '~' && path[1] == '/' && home != NULL) {
		xasprintf(&out, "%s%s", home, path + 1);
		return out;
	}
	return xstrdup(path);
}

/* Keep one keyword line. */
static void
sshconf_keep(struct sshconf *c, const char *key, const char *value,
    const char *file, int line, int active, int inmatch, int generic,
    const char *block, int blockline)
{
	struct sshconf_val	*v;
	char			*p;

	c->v = xreallocarray(c->v, c->nv + 1, sizeof *c->v);
	v = &c->v[c->nv++];
	v->key = xstrdup(key);
	for (p = v->key; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	v->value = xstrdup(value);
	v->file = xstrdup(file);
	v->line = line;
	v->active = active;
	v->inmatch = inmatch;
	v->generic = generic;
	v->block = block != NULL ? xstrdup(block) : NULL;
	v->blockline = blockline;
}

/* The block a line sits in, carried into included files. */
struct sshconf_block {
	const char	*text;		/* the Host/Match line, NULL at top */
	int		 line;
	int		 active;
	int		 inmatch;
	int		 generic;
};

static int sshconf_parse_depth(struct sshconf *, const char *, const char *,
    const char *, const struct sshconf_match *, const struct sshconf_io *,
    const struct sshconf_block *, int);

/* Process an Include line: every file its globs name, in order. */
static int
sshconf_include(struct sshconf *c, const char *file, int line, char *args,
    const char *incdir, const struct sshconf_match *m,
    const struct sshconf_io *io, const struct sshconf_block *b, int depth)
{
	char	*a, *path, *rel, **paths, *text;
	int	 n, i, r, k;

	if (depth >= SSHCONF_MAXDEPTH) {
		sshconf_issue(c, SSHCONF_UNREADABLE, "include", file, line,
		    "Include nested too deeply");
		return 0;
	}
	while ((a = sshconf_arg(&args)) != NULL) {
		rel = sshconf_tilde(a, io->home);
		if (rel[0] != '/')
			xasprintf(&path, "%s/%s", incdir, rel);
		else
			path = xstrdup(rel);
		free(rel);
		paths = NULL;
		n = 0;
		if (io->glob(io->arg, path, &paths, &n) != 0)
			n = 0;
		for (i = 0; i < n; i++) {
			text = NULL;
			for (k = 0; k < c->nstack; k++)
				if (strcmp(c->stack[k], paths[i]) == 0)
					break;
			if (k < c->nstack || c->nread >= SSHCONF_MAXFILES) {
				sshconf_issue(c, SSHCONF_UNREADABLE, "include",
				    file, line, k < c->nstack ? "Include loop: "
				    "a file includes itself" : "too many "
				    "included files");
			} else if ((r = io->read(io->arg, paths[i], &text)) !=
			    0) {
				sshconf_issue(c, SSHCONF_UNREADABLE, "include",
				    paths[i], 0, err_str(r));
			} else {
				sshconf_parse_depth(c, paths[i], text, incdir,
				    m, io, b, depth + 1);
			}
			free(text);
			free(paths[i]);
		}
		free(paths);
		free(path);
	}
	return 0;
}

/* Strip a trailing newline/carriage return and leading blanks. */
static char *
sshconf_trim(char *s)
{
	size_t	len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

/* Check whether a keyword belongs in this kind of file. */
static void
sshconf_check_key(struct sshconf *c, const char *key, const char *file,
    int line)
{
	int	 side = sshconf_side(key);
	char	 text[256];

	if (side == SSHCONF_BOTH)
		return;
	if (!c->server && side == SSHCONF_CLIENT)
		return;
	if (c->server && side == SSHCONF_SERVER)
		return;
	if (!c->server && c->ignoreunknown != NULL &&
	    sshconf_pattern_list(key, c->ignoreunknown, 1))
		return;
	if (side == SSHCONF_UNKNOWN) {
		snprintf(text, sizeof text, "%s is not a keyword %s knows",
		    key, c->server ? "sshd" : "ssh");
		sshconf_issue(c, SSHCONF_BADKEY, key, file, line, text);
	} else {
		snprintf(text, sizeof text, "%s is %s keyword: %s never reads "
		    "it here, and %s refuses to run with it (\"Bad "
		    "configuration option\")", key,
		    c->server ? "an ssh (client)" : "an sshd (server)",
		    c->server ? "ssh" : "sshd", c->server ? "sshd" : "ssh");
		sshconf_issue(c, SSHCONF_WRONGSIDE, key, file, line, text);
	}
}

/*
 * Parse text (the contents of file) at Include depth depth, inside the
 * enclosing block ob (the Include line's block).
 */
static int
sshconf_parse_depth(struct sshconf *c, const char *file, const char *text,
    const char *incdir, const struct sshconf_match *m,
    const struct sshconf_io *io, const struct sshconf_block *ob, int depth)
{
	char			*copy, *p, *nl, *s, *key, *eq;
	char			*block;
	int			 line = 0, outer = ob->active, pushed = 0;
	int			 active = ob->active, inmatch = ob->inmatch;
	int			 generic = ob->generic, blockline = ob->line, g;
	struct sshconf_block	 nb;

	block = ob->text != NULL ? xstrdup(ob->text) : NULL;
	copy = xstrdup(text);
	if (c->nstack < (int)(sizeof c->stack / sizeof c->stack[0])) {
		c->stack[c->nstack++] = file;
		pushed = 1;
	}
	c->nread++;
	for (p = copy; p != NULL && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		line++;
		s = sshconf_trim(p);
		if (*s == '\0' || *s == '#')
			continue;
		/* The keyword ends at a blank or '='. */
		key = s;
		s += strcspn(s, " \t=");
		if (*s != '\0') {
			eq = s;
			s += strspn(s, " \t");
			if (*s == '=')
				s++;
			else if (*eq == '=')
				s = eq + 1;
			*eq = '\0';
			s += strspn(s, " \t");
		}
		if (strcasecmp(key, "host") == 0 && !c->server) {
			active = outer && sshconf_host_line(m->host, s, &g);
			generic = g;
			free(block);
			xasprintf(&block, "Host %s", s);
			blockline = line;
			continue;
		}
		if (strcasecmp(key, "match") == 0) {
			free(block);
			xasprintf(&block, "Match %s", s);
			blockline = line;
			if (c->server) {
				active = sshconf_match_server(c, file, line, s,
				    m, &g);
				inmatch = 1;
			} else {
				active = outer && sshconf_match_client(c, file,
				    line, s, m, io, &g);
			}
			generic = g;
			continue;
		}
		if (strcasecmp(key, "include") == 0) {
			nb.text = block;
			nb.line = blockline;
			nb.active = active;
			nb.inmatch = inmatch;
			nb.generic = generic;
			sshconf_include(c, file, line, s, incdir, m, io, &nb,
			    depth);
			continue;
		}
		sshconf_check_key(c, key, file, line);
		if (!c->server && active) {
			if (strcasecmp(key, "ignoreunknown") == 0 &&
			    c->ignoreunknown == NULL)
				c->ignoreunknown = xstrdup(s);
			if (strcasecmp(key, "hostname") == 0 &&
			    c->hostname == NULL)
				c->hostname = xstrdup(s);
			if (strcasecmp(key, "tag") == 0 && c->tag == NULL)
				c->tag = xstrdup(s);
			if (strcasecmp(key, "canonicalizehostname") == 0 &&
			    strcasecmp(s, "yes") == 0)
				c->canon = 1;
		}
		sshconf_keep(c, key, s, file, line, active, inmatch && active,
		    generic, block, blockline);
	}
	free(block);
	free(copy);
	if (pushed)
		c->nstack--;
	return 0;
}

/*
 * Parse text as the contents of file; incdir is where relative Include
 * paths start (~/.ssh for the user's file, /etc/ssh otherwise).
 */
int
sshconf_parse(struct sshconf *c, const char *file, const char *text,
    const char *incdir, const struct sshconf_match *m,
    const struct sshconf_io *io)
{
	struct sshconf_block	top = { NULL, 0, 1, 0, 1 };

	return sshconf_parse_depth(c, file, text, incdir, m, io, &top, 0);
}

/* Read and parse the file at path. */
int
sshconf_load(struct sshconf *c, const char *path, const char *incdir,
    const struct sshconf_match *m, const struct sshconf_io *io)
{
	char	*text = NULL;
	int	 r;

	if ((r = io->read(io->arg, path, &text)) != 0)
		return r;
	r = sshconf_parse(c, path, text, incdir, m, io);
	free(text);
	return r;
}

/*
 * The line whose value is in effect for key (lowercase), or NULL if no
 * line sets it.  For sshd a satisfied Match block beats the global part.
 */
const struct sshconf_val *
sshconf_get(const struct sshconf *c, const char *key)
{
	int	i;

	if (c->server) {
		for (i = 0; i < c->nv; i++)
			if (c->v[i].inmatch && strcmp(c->v[i].key, key) == 0)
				return &c->v[i];
		for (i = 0; i < c->nv; i++)
			if (c->v[i].active && !c->v[i].block &&
			    strcmp(c->v[i].key, key) == 0)
				return &c->v[i];
		return NULL;
	}
	for (i = 0; i < c->nv; i++)
		if (c->v[i].active && strcmp(c->v[i].key, key) == 0)
			return &c->v[i];
	return NULL;
}

/* The next applying line for the same key after v (the ones that lost). */
const struct sshconf_val *
sshconf_next(const struct sshconf *c, const struct sshconf_val *v)
{
	int	i;

	for (i = (int)(v - c->v) + 1; i < c->nv; i++)
		if (c->v[i].active && strcmp(c->v[i].key, v->key) == 0)
			return &c->v[i];
	return NULL;
}

/*
 * Flag the classic mistake for key: the value in effect comes from a
 * block for every host, and a later block written for this host sets
 * another value that never applies.
 */
void
sshconf_check_shadow(struct sshconf *c, const char *key)
{
	const struct sshconf_val	*w, *v;
	char				*text;

	if ((w = sshconf_get(c, key)) == NULL || !w->generic)
		return;
	for (v = sshconf_next(c, w); v != NULL; v = sshconf_next(c, v)) {
		if (v->generic || strcasecmp(v->value, w->value) == 0)
			continue;
		xasprintf(&text, "\"%s\" at %s line %d sets %s %s first, so "
		    "\"%s\" %s line %d (%s %s) never applies: ssh uses the "
		    "first value it reads", w->block != NULL ? w->block :
		    "the top of the file", w->file, w->line, key, w->value,
		    v->block != NULL ? v->block : "", v->file, v->line, key,
		    v->value);
		sshconf_issue(c, SSHCONF_SHADOWED, key, v->file, v->line, text);
		free(text);
		return;
	}
}

/* Read a whole file from the file system. */
static int
sshconf_fs_read(void *arg, const char *path, char **out)
{
	FILE	*f;
	char	*text = NULL;
	size_t	 len = 0;
	ssize_t	 n;
	char	 chunk[4096];

	(void)arg;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_SYSTEM;
	text = xmalloc(1);
	while ((n = (ssize_t)fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + n > 4 * 1024 * 1024)
			break;
		text = xreallocarray(text, len + n + 1, 1);
		memcpy(text + len, chunk, n);
		len += n;
	}
	text[len] = '\0';
	fclose(f);
	*out = text;
	return 0;
}

/* Expand a glob on the file system, sorted. */
static int
sshconf_fs_glob(void *arg, const char *pattern, char ***out, int *n)
{
	glob_t	g;
	size_t	i;

	(void)arg;
	*out = NULL;
	*n = 0;
	memset(&g, 0, sizeof g);
	if (glob(pattern, 0, NULL, &g) != 0) {
		globfree(&g);
		return 0;
	}
	*out = xcalloc(g.gl_pathc + 1, sizeof **out);
	for (i = 0; i < g.gl_pathc; i++)
		(*out)[i] = xstrdup(g.gl_pathv[i]);
	*n = (int)g.gl_pathc;
	globfree(&g);
	return 0;
}

const struct sshconf_io sshconf_fs = {
	sshconf_fs_read, sshconf_fs_glob, NULL, NULL, NULL
};
