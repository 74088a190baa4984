# labs/04-routing/lab.sh - lab 04 for bin/lab: its pieces and its checks.
LAB_TITLE="Which pool? Virtual hosts, a canary header, path prefixes"
LAB_STEPS="3"

lab_start() {
	start_backends
	start_proxy_lab -c "$LAB_DIR/vhosts.conf"
}

lab_check() {
	backends
	proxy -c "$(lab_conf "$LAB_DIR/vhosts.conf")"
	part "1. Virtual hosts"
	local got= h
	for h in api.example.com www.example.com shop.example.com example.org API.Example.COM:8080 example.com; do
		got+="$h=$(xbackend / -H "Host: $h") "
	done
	expect "each Host goes to its pool (first match wins; case and port ignored)" "${got% }" \
		"api.example.com=b1 www.example.com=b2 shop.example.com=b3 example.org=b3 API.Example.COM:8080=b1 example.com=b3"
	expect "an absolute-form target wins over the Host header" \
		"$(on client curl -s -o /dev/null -D - --proxy "http://$P" http://api.example.com/ | tr -d '\r' | awk -F': ' '$1 == "X-Backend" { print $2 }')" b1

	part "2. First match wins, and no default pool"
	cat >"$(l7_dir)/strict.conf" <<-CONF
		pool api {
			server b1 $B1
		}
		pool www {
			server b2 $B2
			server b3 $B3
		}
		route host:*.example.com     www
		route host:api.example.com   api
	CONF
	proxy -c "$(l7_dir)/strict.conf"
	expect "with the wildcard first, api.example.com lands in the www pool" "$(xbackend / -H 'Host: api.example.com')" b2
	expect "no route and no default pool: a 503 made by the proxy (no X-Backend)" \
		"$(get / -H 'Host: example.org' -D - -o /dev/null | tr -d '\r' | grep -c -i -E '^HTTP/1.1 503|^X-Backend')" 1

	part "3. A canary by header, static files by path"
	proxy -c "$(lab_conf "$LAB_DIR/canary.conf")"
	got="$(xbackend /) $(xbackend / -H 'version: v2') $(xbackend / -H 'Version: v2') $(xbackend / -H 'version: V2')"
	got+=" $(xbackend /static/logo.png) $(xbackend /static) $(xbackend /static/logo.png -H 'version: v2') $(xbackend /%73tatic/logo.png)"
	expect "default, canary (name in any case, value exact), static, and /%73tatic escaping the path route" "$got" \
		"b1 b3 b3 b2 b2 b1 b3 b2"
	lg -c 4 -n 3000 "http://$P/" "http://$P/static/app.js"
	expect "two URLs in turn without the header: b1 25%, b2 75%" "$(lgf '"\(.by_header.b1) \(.by_header.b2)"')" "750 2250"
}
