# HAProxy 2.6 (Debian 12): the defaults of Debian's haproxy.cfg and one frontend (haproxy.conf beside this file)
haproxy -db -f {config}
