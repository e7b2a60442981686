/* The relay: sshd runs it for each connection; it bridges to a daemon. */
#ifndef LIMPET_RELAY_H
#define LIMPET_RELAY_H

int	relay_main(int, char **);

#endif
