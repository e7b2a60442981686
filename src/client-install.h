/* Zero install: put limpet on a server over ssh (client-install.c). */
#ifndef LIMPET_CLIENT_INSTALL_H
#define LIMPET_CLIENT_INSTALL_H

#include "buf.h"
#include "client-ssh.h"

int	client_install(const struct ssh_conf *);
int	client_install_ask(const struct ssh_conf *);

#endif
