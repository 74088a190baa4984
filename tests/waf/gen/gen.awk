# gen.awk - draws benign values or whole requests from the lists of
# words.txt and requests.txt (see mkbenign).  Variables:
#   part    train or valid: which items of every list may be drawn
#           (train: two of three, valid: the third)
#   what    values or requests
#   count   how many to write
#   top     the list drawn from ("value", "request", "value5"...)
#   seed    the random generator's start (a Lehmer generator written out
#           here, so that every awk draws the same numbers)
# Files named before words.txt are values already taken (another split's,
# the hand-written ones): a value drawn again is drawn anew.
# Run with LC_ALL=C: filters work on bytes.  Load ../encode.awk first.

BEGIN {
	state = seed + 0
	if (state <= 0)
		state = 1
}

function rnd(n) {
	state = (state * 48271) % 2147483647
	return state % n
}

# The lists: "@name" then one item a line, "@@name" then items separated
# by "%%" lines.
FILENAME !~ /(words|requests)\.txt$/ {
	if ($0 !~ /^##/ && $0 != "")
		taken[$0] = 1
	next
}
/^##/ { next }
/^@@[a-z_0-9]+$/ { flush(); list = substr($0, 3); multi = 1; next }
/^@[a-z_0-9]+$/ { flush(); list = substr($0, 2); multi = 0; next }
multi && /^%%$/ { flush(); next }
multi { item = item_lines++ ? item "\n" $0 : $0; next }
/^$/ { next }
{ add(list, $0) }

function flush() {
	if (item_lines)
		add(list, item)
	item = ""; item_lines = 0
}

# Item k of a list (0-based) belongs to valid when k % 3 == 2.
function add(name, s,    k) {
	k = all[name]++
	if ((k % 3 == 2) == (part == "valid"))
		items[name, n[name]++] = s
}

function pick(name) {
	if (!(name in n)) {
		printf "gen.awk: no list \"%s\"\n", name > "/dev/stderr"
		exit 2
	}
	return items[name, rnd(n[name])]
}

# A JSON string's inside; "\n" written in a list stays the escape of a
# line end.
function jstr(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\" && substr(s, i + 1, 1) == "n") {
			out = out "\\n"; i++
		} else if (c == "\"" || c == "\\")
			out = out "\\" c
		else if (ord[c] < 32)
			out = out sprintf("\\u%04x", ord[c])
		else
			out = out c
	}
	return out
}

function filter(s, f) {
	if (f == "url")
		return pct(s, unreserved, 0)
	if (f == "form")
		return pct(s, unreserved, 1)
	if (f == "json")
		return jstr(s)
	if (f == "cookie")
		return pct(s, unreserved "!#$&'()*+/:<=>?@[]^`{|}", 0)
	return s
}

function expand(s, depth,    out, name, f, bar, start, len) {
	if (depth > 8)
		return s
	out = ""
	while (match(s, /\[\[[a-z_0-9]+(\|[a-z]+)?\]\]/)) {
		start = RSTART; len = RLENGTH     # the recursion below moves them
		name = substr(s, start + 2, len - 4)
		f = ""
		if ((bar = index(name, "|")) > 0) {
			f = substr(name, bar + 1); name = substr(name, 1, bar - 1)
		}
		out = out substr(s, 1, start - 1) filter(expand(pick(name), depth + 1), f)
		s = substr(s, start + len)
	}
	return out s
}

END {
	flush()
	if (what == "values") {
		for (made = tries = 0; made < count && tries < 50 * count; tries++) {
			v = expand(pick(top), 0)
			gsub(/\\n/, " ", v)
			if (v in taken)
				continue
			taken[v] = 1
			print v
			made++
		}
	} else {
		for (made = 0; made < count; made++)
			printf "%s%s\n", made ? "%%\n" : "", expand(pick(top), 0)
	}
}
