# nginx-light (Debian 12): the reverse proxy a user writes first (nginx.conf beside this file)
nginx -p {dir} -c {config} -e {dir}/error.log
