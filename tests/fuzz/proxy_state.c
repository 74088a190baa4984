/*
 * proxy_state.c - the proxy's process state P, for harnesses that link the
 * proxy without its main.c.  It comes from the helpers' archive only when
 * no module of the proxy defines P (today accept.c does; the proxy's
 * restructuring may move it to main.c), as the unit tests' weak stand-ins.
 */
#include "../../proxy/proxy.h"

__attribute__((weak)) struct proxy P;
