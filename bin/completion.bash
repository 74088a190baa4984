# bin/completion.bash - bash completion for proxy, mockserver, loadgen and
# tracer: each tool's options, read from its own --help (so they never fall
# behind), and the values an option names (files, interfaces, algorithms).
#
#   source bin/completion.bash     in a shell, for bin/proxy and friends;
#                                  `make install` puts it where Debian's
#                                  bash-completion loads it by itself.

_l7lab_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local tool=${COMP_WORDS[0]##*/} words=
	COMPREPLY=()
	# What the previous option wants: the flags that take a file, per tool
	# (-c is a file for the proxy, a count elsewhere).
	case "$tool:$prev" in
	proxy:-c | proxy:--config | proxy:--access-log | proxy:--events | \
	loadgen:--body | loadgen:--hdr | loadgen:--timeline | \
	tracer:-r | tracer:--read | tracer:-w | tracer:--write | tracer:--events)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	mockserver:--raw-dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	tracer:-i | tracer:--interface)
		words="any $(ls /sys/class/net 2>/dev/null)" ;;
	proxy:--balance) words="roundrobin leastconn random ewma least-time hash:source hash:uri hash:header:" ;;
	proxy:--waf) words="off detect block" ;;
	proxy:--waf-rules) words="l7lab crs" ;;
	proxy:--dlp) words="off detect mask block" ;;
	proxy:--dlp-over-limit) words="mask block" ;;
	proxy:--dlp-compressed) words="pass block" ;;
	proxy:--log-format) words="text json" ;;
	tracer:--color) words="auto always never" ;;
	*)
		[[ $cur == -* ]] || return 0
		words=$("${COMP_WORDS[0]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u) ;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -o default -F _l7lab_complete proxy mockserver loadgen tracer
