/*
 * limpet doctor --probe-nat: measure how long NAT or firewall state on the
 * path to the server survives an idle connection.
 */
#ifndef LIMPET_DOCTOR_NAT_H
#define LIMPET_DOCTOR_NAT_H

#include <stddef.h>

struct cmdline;
struct doctor_ctx;

#define NAT_MAXPROBES	16

struct doctor_nat {
	int	enabled;
	int	times[NAT_MAXPROBES];	/* idle seconds, ascending */
	int	ntimes;
	int	max;
	int	wait;			/* seconds an answer may take */
	int	state[NAT_MAXPROBES];	/* NAT_* below */
	int	ran;			/* the probe ran */
	int	interrupted;
	long	lo;			/* longest idle time that survived */
	long	hi;			/* shortest that did not, -1 none */
	long	cap;			/* server's ChannelTimeout, or 0 */
	char	*error;
};

#define NAT_UNKNOWN	0
#define NAT_ALIVE	1
#define NAT_DEAD	2
#define NAT_FAILED	3	/* never connected */

int	doctor_nat_options(struct doctor_nat *, const struct cmdline *, char *,
	    size_t);
void	doctor_nat_free(struct doctor_nat *);
void	doctor_nat_probe(struct doctor_ctx *);
void	doctor_nat_check(struct doctor_ctx *);
void	doctor_nat_bracket(struct doctor_nat *);

#endif
